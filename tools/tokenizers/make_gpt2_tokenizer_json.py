#!/usr/bin/env python3
"""Builds a Hugging Face tokenizer.json for GPT-2 from OpenAI's encoder.json + vocab.bpe.

Same structure as the gpt2 tokenizer.json on the Hugging Face Hub: ByteLevel pre-tokenizer
(add_prefix_space false, GPT-2 regex), BPE model, ByteLevel post-processor and decoder, and
<|endoftext|> as added special token 50256. Output is gzipped (tokenizer.json.gz) so the test
resource stays small; the test unpacks it into a temp dir.

usage: make_gpt2_tokenizer_json.py ../shared/data/gpt2 src/test/resources/tokenizers/gpt2
"""
import gzip, json, os, sys

src, out = sys.argv[1], sys.argv[2]
with open(os.path.join(src, "encoder.json"), encoding="utf-8") as f:
    encoder = json.load(f)
with open(os.path.join(src, "vocab.bpe"), encoding="utf-8") as f:
    lines = f.read().split("\n")
merges = [l for l in lines[1:] if l]  # first line is "#version: 0.2"
assert encoder["<|endoftext|>"] == 50256 and len(encoder) == 50257 and len(merges) == 50000

byte_level = {"add_prefix_space": False, "trim_offsets": True, "use_regex": True}
tok = {
    "version": "1.0",
    "truncation": None,
    "padding": None,
    "added_tokens": [{"id": 50256, "content": "<|endoftext|>", "single_word": False, "lstrip": False,
                      "rstrip": False, "normalized": True, "special": True}],
    "normalizer": None,
    "pre_tokenizer": {"type": "ByteLevel", **byte_level},
    "post_processor": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
    "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
    "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
              "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False,
              "vocab": encoder, "merges": merges},
}
os.makedirs(out, exist_ok=True)
data = json.dumps(tok, ensure_ascii=False, indent=None, separators=(",", ":")).encode("utf-8")
# mtime=0: regenerating gives byte-identical output
with open(os.path.join(out, "tokenizer.json.gz"), "wb") as f:
    with gzip.GzipFile(filename="tokenizer.json", mode="wb", fileobj=f, mtime=0) as g:
        g.write(data)
config = {"add_bos_token": False, "bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>",
          "unk_token": "<|endoftext|>", "model_max_length": 1024, "tokenizer_class": "GPT2Tokenizer"}
with open(os.path.join(out, "tokenizer_config.json"), "w", encoding="utf-8") as f:
    json.dump(config, f, indent=2)
    f.write("\n")
print("wrote", out, len(encoder), "tokens", len(merges), "merges")
