# Baton's stdout callback for ad-hoc runs (crates/baton-remote/src/ansible.rs): each host's
# result as one JSON line, with the diff rendered as Ansible renders it for --diff.
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
            {"status": status, "host": result._host.get_name(), "result": data, "diff_text": diff_text},
            cls=AnsibleJSONEncoder,
        )
        self._display.display("BATON-RESULT " + line)

    def v2_runner_on_ok(self, result):
        self._emit("ok", result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._emit("failed", result)

    def v2_runner_on_unreachable(self, result):
        self._emit("unreachable", result)

    def v2_runner_on_skipped(self, result):
        self._emit("skipped", result)
