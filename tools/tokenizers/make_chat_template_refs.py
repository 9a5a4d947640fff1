#!/usr/bin/env python3
"""Reference renderings of the test chat templates, in the environment transformers'
apply_chat_template uses (tokenization_utils_base / chat_template_utils: an
ImmutableSandboxedEnvironment with trim_blocks, lstrip_blocks and loopcontrols; a tojson filter
calling json.dumps(ensure_ascii=False); raise_exception; strftime_now; the special tokens and
add_generation_prompt as variables). Needs only Debian's python3-jinja2.

usage: make_chat_template_refs.py src/test/resources/tokenizers/chat
"""
import json, os, sys
from datetime import datetime

import jinja2
import jinja2.ext
from jinja2.exceptions import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment


def raise_exception(message):
    raise TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def compile_template(source):
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    return env.from_string(source)


SPECIALS = {
    "llama3_style": {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"},
    "chatml_style": {"bos_token": "<|endoftext|>", "eos_token": "<|im_end|>"},
    "inst_style": {"bos_token": "<s>", "eos_token": "</s>"},
    "controls": {"bos_token": "<s>", "eos_token": "</s>"},
    "inline_tags": {"bos_token": "<s>", "eos_token": "</s>"},
    "string_methods": {"bos_token": "<s>", "eos_token": "</s>"},
    "qwen3_style": {"bos_token": "", "eos_token": "<|im_end|>"},
    "gemma_style": {"bos_token": "<bos>", "eos_token": "<eos>"},
    "mistral_style": {"bos_token": "<s>", "eos_token": "</s>"},
    "phi3_style": {"bos_token": "<s>", "eos_token": "<|endoftext|>"},
}

S = {"role": "system", "content": "You are a pirate. Answer in one line."}
U1 = {"role": "user", "content": "  What is the capital of France?\n"}
A1 = {"role": "assistant", "content": "Paris, matey! \u2693"}
U2 = {"role": "user", "content": "And of Japan? Quote: \"\u6771\u4eac\" \\ tab\there"}
A2 = {"role": "assistant", "content": "Tokyo."}
U3 = {"role": "user", "content": "Thanks!"}
CASES = {
    "user_only": [U1],
    "system_user": [S, U1],
    "multi_turn": [S, U1, A1, U2],
    "long": [S, U1, A1, U2, A2, U3],
    "no_system_multi": [U1, A1, U2],
    "thinking": [S, U1, {"role": "assistant", "content": "<think>\nFrance... Paris.\n</think>\n\nParis."}, U2,
                 {"role": "assistant", "content": "<think>\nJapan: Tokyo\n</think>\nTokyo."}],
}
BAD = {
    "llama3_style": [{"role": "tool", "content": "x"}],
    "inst_style": [U1, U2],
    "gemma_style": [U1, U2],
    "mistral_style": [S, A1],
}

out = sys.argv[1]
refs = {}
for name, specials in SPECIALS.items():
    with open(os.path.join(out, name + ".jinja"), encoding="utf-8") as f:
        template = compile_template(f.read())
    for case, messages in CASES.items():
        for agp in (False, True):
            text = template.render(messages=messages, add_generation_prompt=agp, **specials)
            refs[f"{name}/{case}/{'gen' if agp else 'nogen'}"] = {
                "template": name, "messages": messages, "add_generation_prompt": agp,
                "special_tokens": specials, "expected": text}
    if name in BAD:
        try:
            template.render(messages=BAD[name], add_generation_prompt=False, **specials)
            raise SystemExit(f"{name}: expected raise_exception")
        except TemplateError as e:
            refs[f"{name}/raises"] = {"template": name, "messages": BAD[name], "add_generation_prompt": False,
                                      "special_tokens": specials, "error": str(e)}
with open(os.path.join(out, "references.json"), "w", encoding="utf-8") as f:
    json.dump({"jinja2_version": jinja2.__version__, "cases": refs}, f, ensure_ascii=False, indent=1, sort_keys=True)
    f.write("\n")
print("wrote", len(refs), "references")
