#!/usr/bin/python3
"""Checks a directory written by `jllm convert checkpoint` with the real Hugging Face libraries.

Usage: python3 tools/check_hf_export.py DIR
DIR holds hf/ (the exported GPT-2 directory with its tokenizer.json), jllm_tokenizer.json (the
run's own char tokenizer) and jllm_greedy.txt (`jllm sample --prompt "ROMEO:" --temperature 0
--max-new-tokens 50` of the same checkpoint). Checks: PreTrainedTokenizerFast gives the char
tokenizer's ids and decodes them back; GPT2LMHeadModel.from_pretrained loads the weights (zero
biases for a bias-free model) and its greedy continuation is jllm's text. Prints MATCH lines;
exits 1 on the first difference.
"""
import json
import sys

import torch
from transformers import GPT2LMHeadModel, PreTrainedTokenizerFast

d = sys.argv[1]
chars = json.load(open(f"{d}/jllm_tokenizer.json"))["chars"]
tok = PreTrainedTokenizerFast(tokenizer_file=f"{d}/hf/tokenizer.json")
text = "ROMEO:\nWhat light, through yonder window breaks?"
ids = tok(text)["input_ids"]
want_ids = [chars.index(c) for c in text]
if ids != want_ids or tok.decode(ids) != text:
    print("tokenizer DIFFER", ids, want_ids, repr(tok.decode(ids)))
    sys.exit(1)
print("tokenizer MATCH: same ids and round trip for", repr(text))

model = GPT2LMHeadModel.from_pretrained(f"{d}/hf").eval()
want = open(f"{d}/jllm_greedy.txt", encoding="utf-8").read()[:-1]  # the sampler's final newline
prompt = "ROMEO:"
x = torch.tensor([tok(prompt)["input_ids"]])
with torch.no_grad():
    out = model.generate(x, max_new_tokens=50, do_sample=False, pad_token_id=0)
got = tok.decode(out[0].tolist())
if got != want:
    print("greedy DIFFER\n jllm:", repr(want), "\n hf:  ", repr(got))
    sys.exit(1)
print("greedy MATCH: transformers", __import__("transformers").__version__, "continues", repr(prompt), "as jllm does:", repr(got))
