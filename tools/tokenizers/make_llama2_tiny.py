#!/usr/bin/env python3
"""Trains a tiny Llama-2-style sentencepiece BPE (byte_fallback, vocab 1000) on Tiny Shakespeare,
converts it to tokenizer.json the way transformers' LlamaConverter does (convert_slow_tokenizer.py,
legacy form), and writes reference ids and decodings from sentencepiece itself.

Conversion, as LlamaConverter / SpmConverter do for a BPE model:
  normalizer  Sequence[Prepend("▁"), Replace(" ", "▁")]   (legacy=True, add_prefix_space=True)
  pre_tokenizer null
  model       BPE(vocab = pieces in id order with <unk>,<s>,</s> at 0,1,2; merges from
              SentencePieceExtractor: every split of a piece into two vocab pieces, sorted by
              the piece's score descending, then by left/right lengths; unk "<unk>",
              fuse_unk, byte_fallback)
  decoder     Sequence[Replace("▁", " "), ByteFallback, Fuse, Strip(" ", 1, 0)]
  post        TemplateProcessing "<s>:0 $A:0" (LlamaTokenizerFast.update_post_processor, add_bos_token)
  added       <unk>, <s>, </s> as special, normalized false
Needs Debian's python3-sentencepiece.

usage: make_llama2_tiny.py src/main/resources/jllm/data/tinyshakespeare.txt src/test/resources/tokenizers/llama2-tiny
"""
import json, os, sys, tempfile

import sentencepiece as spm

corpus, out = sys.argv[1], sys.argv[2]
text = open(corpus, encoding="utf-8").read()
tmp = tempfile.mkdtemp()
spm.SentencePieceTrainer.train(
    input=corpus, model_prefix=os.path.join(tmp, "sp"), model_type="bpe", vocab_size=1000,
    byte_fallback=True, character_coverage=1.0, normalization_rule_name="identity",
    add_dummy_prefix=True, remove_extra_whitespaces=False, split_digits=True,
    allow_whitespace_only_pieces=True, unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
    num_threads=1, minloglevel=2)
sp = spm.SentencePieceProcessor(model_file=os.path.join(tmp, "sp.model"))
n = sp.get_piece_size()
pieces = [sp.id_to_piece(i) for i in range(n)]
scores = [sp.get_score(i) for i in range(n)]
assert pieces[:3] == ["<unk>", "<s>", "</s>"], pieces[:3]

# LlamaConverter.vocab: the first three get score 0.0, the rest keep sentencepiece's scores.
vocab_scores = [(p, 0.0 if i < 3 else s) for i, (p, s) in enumerate(zip(pieces, scores))]
vocab = {p: i for i, (p, _) in enumerate(vocab_scores)}

# SentencePieceExtractor.extract / generate_merges
merges = []
for piece, score in vocab_scores:
    local = []
    for k in range(1, len(piece)):
        l, r = piece[:k], piece[k:]
        if l in vocab and r in vocab:
            local.append((l, r, score))
    local.sort(key=lambda x: (vocab[x[0]], vocab[x[1]]))
    merges.extend(local)
merges.sort(key=lambda v: (v[2], len(v[0]), len(v[1])), reverse=True)
merges = [[l, r] for l, r, _ in merges]

def added(i, content):
    return {"id": i, "content": content, "single_word": False, "lstrip": False, "rstrip": False,
            "normalized": False, "special": True}

tok = {
    "version": "1.0", "truncation": None, "padding": None,
    "added_tokens": [added(0, "<unk>"), added(1, "<s>"), added(2, "</s>")],
    "normalizer": {"type": "Sequence", "normalizers": [
        {"type": "Prepend", "prepend": "\u2581"},
        {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
    "pre_tokenizer": None,
    "post_processor": {
        "type": "TemplateProcessing",
        "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
        "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                 {"SpecialToken": {"id": "<s>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
        "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
    "decoder": {"type": "Sequence", "decoders": [
        {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
        {"type": "ByteFallback"}, {"type": "Fuse"},
        {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
    "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
              "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": True, "ignore_merges": False,
              "vocab": vocab, "merges": merges},
}
os.makedirs(out, exist_ok=True)
with open(os.path.join(out, "tokenizer.json"), "w", encoding="utf-8") as f:
    json.dump(tok, f, ensure_ascii=False, indent=1)
    f.write("\n")

template = open(os.path.join(os.path.dirname(out), "chat", "inst_style.jinja"), encoding="utf-8").read()
def special(c):
    return {"__type": "AddedToken", "content": c, "lstrip": False, "normalized": False, "rstrip": False, "single_word": False}
config = {"add_bos_token": True, "add_eos_token": False, "bos_token": special("<s>"), "eos_token": special("</s>"),
          "unk_token": special("<unk>"), "pad_token": None, "legacy": True, "model_max_length": 4096,
          "tokenizer_class": "LlamaTokenizer", "chat_template": [{"name": "default", "template": template}]}
with open(os.path.join(out, "tokenizer_config.json"), "w", encoding="utf-8") as f:
    json.dump(config, f, ensure_ascii=False, indent=1)
    f.write("\n")

lines = [l for l in text.split("\n") if l.strip()][:300]
chunks = [text[i:i + 400] for i in range(0, 40000, 4000)]
tricky = ["", " ", "  ", "Hello", " Hello", "  two leading", "trailing ", "a  b   c", "\n", "line one\nline two\n\n",
          "\ttab", "caf\u00e9 na\u00efve", "\u4f60\u597d\uff0c\u4e16\u754c", "\U0001F600 emoji \U0001F44D\U0001F3FD",
          "2024-11-22 3.14159", "ROMEO: O, she doth teach the torches to burn bright!", "x\r\ny", "\u00a0nbsp",
          "A\u0301", "\u2581already a metaspace"]
# Special-token text ("<s>", "<unk>") is left out: sentencepiece encodes it as ordinary text, while
# transformers (and HfTokenizer) match it as the special id; HfTokenizerSentencePieceTest checks that.
cases = [{"text": t, "ids": sp.encode(t), "decoded": sp.decode(sp.encode(t))} for t in lines + chunks + tricky]
with open(os.path.join(out, "reference.json"), "w", encoding="utf-8") as f:
    json.dump({"sentencepiece_version": spm.__version__, "vocab_size": n, "cases": cases}, f, ensure_ascii=False)
    f.write("\n")
print("wrote", out, n, "pieces", len(merges), "merges", len(cases), "cases")
