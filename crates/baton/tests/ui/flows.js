// The web UI in headless Chromium (Debian's), driven by playwright-core: sign-in (a bad token
// refused), a workflow started from its page, its graph turning from running to waiting at
// the approval, the approval decided by an approver on the run page, the run succeeding; a
// failed run's failing step log; the plan diff page (a sensitive value never shown); the runs
// page on a phone's screen; a 10,000-node run graph drawn. Screenshots go to SCREENSHOTS.
//
// Run by crates/baton/tests/ui.rs, which starts the agent and passes, in the environment:
// BATON_URL, BATON_TOKENS ({"operator","approver","viewer"}), FAILED_RUN, STACK_RUN,
// BIG_RUN, SECRET (a value that must never appear), SCREENSHOTS, PLAYWRIGHT_CORE (the
// module's directory) and CHROMIUM. Exits non-zero, saying what failed, on any failure.
"use strict";
const path = require("path");
const { chromium } = require(process.env.PLAYWRIGHT_CORE);

const base = process.env.BATON_URL;
const tokens = JSON.parse(process.env.BATON_TOKENS);
const shots = process.env.SCREENSHOTS;
const secret = process.env.SECRET;
const T = 30000;

function check(cond, what) {
  if (!cond) throw new Error("check failed: " + what);
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(shots, name + ".png"), fullPage: true });
}

async function signIn(page, token) {
  await page.goto(base + "/#/login");
  await page.fill("#token", token);
  await page.click("#signin");
  await page.waitForSelector("#runs", { timeout: T });
}

async function noSecret(page, where) {
  const html = await page.content();
  check(!html.includes(secret), "the sensitive value appears on " + where);
}

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM,
    args: ["--headless", "--no-sandbox"],
  });
  const errors = [];
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const page = await context.newPage();
  page.on("pageerror", (e) => errors.push(String(e)));
  // Nothing but the agent itself may be asked for anything.
  const foreign = [];
  page.on("request", (r) => { if (!r.url().startsWith(base)) foreign.push(r.url()); });

  // A bad token is refused on the sign-in page.
  await page.goto(base + "/#/login");
  await page.fill("#token", "baton_not-a-token");
  await page.click("#signin");
  await page.waitForSelector("text=That token is not valid.", { timeout: T });
  await shot(page, "01-sign-in-refused");

  // An operator starts the release workflow from its page.
  await signIn(page, tokens.operator);
  await page.click('nav a[href="#/workflows"]');
  await page.click('tr[data-workflow="release"]', { timeout: T });
  await page.fill("#input-version", "1.2.3");
  await shot(page, "02-workflow-form");
  await page.click("#run-workflow");
  await page.waitForURL(/#\/runs\/[^/]+$/, { timeout: T });
  const runUrl = page.url();
  // The graph shows the build step running, then the approval waiting.
  await page.waitForSelector('#nodes tr[data-node="build"][data-status="running"]', { timeout: T });
  await shot(page, "03-run-running");
  await page.waitForSelector('#nodes tr[data-node="gate"][data-status="waiting"]', { timeout: T });
  await page.waitForSelector('h1 .badge[data-status="waiting"]', { timeout: T });
  await shot(page, "04-run-waiting");
  // The operator who started it may not approve it (separation of duties): refused.
  await page.click("#approve-gate");
  await page.waitForSelector('.approval[data-step="gate"] .error', { timeout: T });
  await shot(page, "04b-operator-refused");

  // An approver signs in, finds it under Approvals, and approves it with a reason.
  await page.click("#logout");
  await signIn(page, tokens.approver);
  await page.click('nav a[href="#/approvals"]');
  await page.waitForSelector('.approval[data-step="gate"]', { timeout: T });
  await shot(page, "05-approvals");
  await page.goto(runUrl);
  await page.fill("#reason-gate", "checked the build");
  await page.click("#approve-gate");
  await page.waitForSelector('h1 .badge[data-status="succeeded"]', { timeout: 60000 });
  await page.waitForSelector('#nodes tr[data-node="deploy"][data-status="succeeded"]', { timeout: T });
  await shot(page, "06-run-succeeded");
  await page.click("#tab-timeline");
  await page.waitForSelector("#timeline .gantt-bar", { timeout: T });
  await shot(page, "07-timeline");

  // A failed run: its failing step's log.
  await page.goto(base + "/#/runs/" + encodeURIComponent(process.env.FAILED_RUN));
  await page.waitForSelector('#nodes tr[data-node="check"][data-status="failed"]', { timeout: T });
  await page.click("#tab-logs");
  await page.waitForFunction(() => {
    const l = document.querySelector("#log");
    return l && l.textContent.includes("disk full");
  }, null, { timeout: T });
  check((await page.inputValue("#log-node")) === "check", "the failed step is the one shown");
  await shot(page, "08-failed-log");

  // The plan of a stack run, as a diff with Terraform's symbols; the sensitive value hidden.
  await page.goto(base + "/#/runs/" + encodeURIComponent(process.env.STACK_RUN) + "/plan");
  await page.waitForSelector('#plan pre[data-address="terraform_data.app"]', { timeout: T });
  const diff = await page.textContent('#plan pre[data-address="terraform_data.app"]');
  check(diff.includes("+ terraform_data.app"), "the created object is marked + : " + diff);
  const db = await page.textContent('#plan pre[data-address="terraform_data.db"]');
  check(db.includes("(sensitive value)"), "the sensitive input is hidden: " + db);
  await noSecret(page, "the plan page");
  await shot(page, "09-plan-diff");

  // The audit log verifies.
  await page.goto(base + "/#/audit");
  await page.click("#verify");
  await page.waitForSelector('#verify-result .badge[data-status="ok"]', { timeout: T });
  await shot(page, "10-audit-verified");

  // A 10,000-node run graph is drawn (and stays usable: the page answers afterwards).
  const started = Date.now();
  await page.goto(base + "/#/runs/" + encodeURIComponent(process.env.BIG_RUN));
  await page.waitForSelector('#nodes tr[data-node]', { timeout: 120000 });
  const drawn = await page.evaluate(() => {
    const c = document.querySelector("#graph");
    const ctx = c.getContext("2d");
    const d = ctx.getImageData(0, 0, c.width, c.height).data;
    let painted = 0;
    for (let i = 3; i < d.length; i += 4 * 97) if (d[i] > 0) painted++;
    return painted;
  });
  check(drawn > 0, "the big graph's canvas is painted");
  // A finished run opened directly is drawn at a readable size (fitted to the canvas once the
  // canvas is on the page), not as a speck.
  await page.goto(base + "/#/runs/" + encodeURIComponent(process.env.FAILED_RUN));
  await page.waitForSelector('#nodes tr[data-node="check"]', { timeout: T });
  const painted = await page.evaluate(() => {
    const c = document.querySelector("#graph");
    const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
    return n / (c.width * c.height);
  });
  check(painted > 0.002, "a one-node graph covers more than a speck: " + painted);
  console.log("10000-node graph page ready in " + (Date.now() - started) + " ms");
  await shot(page, "11-big-graph");

  // On a phone's screen the runs page still works.
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true });
  const p2 = await phone.newPage();
  p2.on("pageerror", (e) => errors.push(String(e)));
  await signIn(p2, tokens.viewer);
  await p2.waitForSelector("#runs tbody tr[data-run]", { timeout: T });
  await shot(p2, "12-phone-runs");

  check(errors.length === 0, "errors on the page: " + errors.join("; "));
  check(foreign.length === 0, "requests elsewhere: " + foreign.join(", "));
  await browser.close();
  console.log("ui flows: ok");
})().catch((e) => {
  console.error(String(e && e.stack || e));
  process.exit(1);
});
