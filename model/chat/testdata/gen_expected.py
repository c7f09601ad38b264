#!/usr/bin/env python3
"""Writes expected.json: each template in configs/ rendered on each conversation
in conversations.json, with add_generation_prompt false and true, by Python's
jinja2 in the environment transformers' apply_chat_template builds
(transformers/utils/chat_template_utils.py: _compile_jinja_template and
render_jinja_template). The AssistantTracker below records the {% generation %}
spans the way transformers does (character offsets into the rendered text).

The one change: strftime_now reads a fixed clock (FIXED_NOW) so that the
expectation does not depend on the day it was generated; the Go test fixes
its clock to the same instant.

Run from this directory: python3 gen_expected.py   (needs python3-jinja2)
"""
import glob
import json
import os
from contextlib import contextmanager
from datetime import datetime

import jinja2
from jinja2.ext import Extension
from jinja2.sandbox import ImmutableSandboxedEnvironment

FIXED_NOW = datetime(2026, 1, 2, 3, 4, 5)
# Template variables transformers users pass as extra kwargs: each template
# is rendered once per entry of its list (once without extras by default).
EXTRA = {
    "llama3_2": [{"date_string": "26 Jul 2024"}],
    "qwen3": [{}, {"enable_thinking": False}],
}


def compile_template(chat_template):
    class AssistantTracker(Extension):
        tags = {"generation"}

        def __init__(self, environment):
            super().__init__(environment)
            environment.extend(activate_tracker=self.activate_tracker)
            self._rendered_blocks = None
            self._generation_indices = None

        def parse(self, parser):
            lineno = next(parser.stream).lineno
            body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
            return jinja2.nodes.CallBlock(self.call_method("_generation_support"), [], [], body).set_lineno(lineno)

        @jinja2.pass_eval_context
        def _generation_support(self, context, caller):
            rv = caller()
            if self.is_active():
                start_index = len("".join(self._rendered_blocks))
                end_index = start_index + len(rv)
                self._generation_indices.append((start_index, end_index))
            return rv

        def is_active(self):
            return self._rendered_blocks is not None or self._generation_indices is not None

        @contextmanager
        def activate_tracker(self, rendered_blocks, generation_indices):
            try:
                if self.is_active():
                    raise ValueError("AssistantTracker should not be reused before closed")
                self._rendered_blocks = rendered_blocks
                self._generation_indices = generation_indices
                yield
            finally:
                self._rendered_blocks = None
                self._generation_indices = None

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(format):
        return FIXED_NOW.strftime(format)

    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[AssistantTracker, jinja2.ext.loopcontrols]
    )
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env.from_string(chat_template)


def special_tokens(cfg):
    """The special-token strings transformers passes to the template
    (tokenizer.special_tokens_map): strings, or AddedToken's content."""
    out = {}
    for key in ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"):
        v = cfg.get(key)
        if isinstance(v, dict):
            v = v.get("content")
        if v is not None:
            out[key] = v
    return out


def render(tmpl, messages, agp, kwargs):
    blocks, indices = [], []
    with tmpl.environment.activate_tracker(blocks, indices):
        for block in tmpl.generate(messages=messages, tools=None, documents=None, add_generation_prompt=agp, **kwargs):
            blocks.append(block)
    return "".join(blocks), indices


def render_cases(name, tmpl, kwargs, extra, convs):
    """Renders every conversation with and without the generation prompt."""
    cases = []
    for conv in convs:
        for agp in (False, True):
            case = {"template": name, "conversation": conv["name"], "add_generation_prompt": agp, "vars": extra}
            try:
                text, gen = render(tmpl, conv["messages"], agp, kwargs)
                case["output"] = text
                case["generation"] = [list(g) for g in gen]
            except jinja2.exceptions.TemplateError as e:
                case["error"] = str(e)
            cases.append(case)
    return cases


def main():
    convs = json.load(open("conversations.json", encoding="utf-8"))
    cases = []
    for path in sorted(glob.glob("configs/*.json")):
        name = os.path.basename(path)[: -len(".json")]
        cfg = json.load(open(path, encoding="utf-8"))
        tmpl = compile_template(cfg["chat_template"])
        for extra in EXTRA.get(name, [{}]):
            cases += render_cases(name, tmpl, dict(special_tokens(cfg), **extra), extra, convs)
    with open("expected.json", "w", encoding="utf-8") as f:
        json.dump(cases, f, ensure_ascii=False, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
