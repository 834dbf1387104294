# Baton's stdout callback for ansible-playbook runs (crates/baton-remote/src/ansible/runner.rs):
# each task's result on each host as one JSON line (BATON-RESULT), with the diff rendered as
# Ansible renders it for --diff, and the per-host recap at the end (BATON-STATS). It must print
# nothing else on stdout, and never the play's variables.
from __future__ import annotations

import json

from ansible.module_utils.common.json import AnsibleJSONEncoder
from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: baton_json
type: stdout
short_description: One JSON line per host result, for Baton
description: [Prints each host's module result as one JSON line prefixed with BATON-RESULT.]
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "stdout"
    CALLBACK_NAME = "baton_json"

    def _emit(self, status, result):
        data = getattr(result, "result", None)
        if data is None:
            data = result._result
        diff_text = ""
        diff = data.get("diff") if isinstance(data, dict) else None
        if diff:
            try:
                diff_text = self._get_diff(diff)
            except Exception:  # the raw diff is in the result anyway
                diff_text = ""
        line = json.dumps(
            {
                "status": status,
                "host": result._host.get_name(),
                "task": result._task.get_name() if getattr(result, "_task", None) else "",
                "result": data,
                "diff_text": diff_text,
            },
            cls=AnsibleJSONEncoder,
        )
        self._display.display("BATON-RESULT " + line)

    def v2_runner_on_ok(self, result):
        self._emit("ok", result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._emit("ignored" if ignore_errors else "failed", result)

    def v2_runner_on_unreachable(self, result):
        self._emit("unreachable", result)

    def v2_runner_on_skipped(self, result):
        self._emit("skipped", result)

    def v2_playbook_on_no_hosts_matched(self):
        self._display.display("BATON-NO-HOSTS {}")

    def v2_playbook_on_stats(self, stats):
        recap = {}
        for host in sorted(stats.processed.keys()):
            recap[host] = stats.summarize(host)
        self._display.display("BATON-STATS " + json.dumps(recap))
