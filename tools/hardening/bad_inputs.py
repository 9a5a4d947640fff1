#!/usr/bin/env python3
"""Bad- and hostile-input harness for the jllm command line (a developer tool, not run in CI).

It checks the promises of the hardening work: every CLI error is ONE line on stderr naming the
file/key/field/index, exit 1 for bad input and 2 for bad usage, no Java stack trace, nothing
silently wrong (bad input never exits 0 as if fine, except where a warning is the documented
behaviour: NaN/Inf weights, a prompt longer than the context, unknown adapter_config keys), no hang.

What it does:
 1. builds small valid seed artifacts with the CLI itself in a temp directory: a tiny `train`
    checkpoint, its `convert checkpoint` GPT-2 directory, the aidreams260K llama2.c model converted
    to a Llama directory, a `finetune` LoRA adapter on it, and a `prepare`d dataset;
 2. builds ~430 bad variants in categories (a) usage ... (i) NaN/documented warnings, plus controls
    (valid inputs, which must succeed); each case says what it expects: usage (exit 2), input (exit 1),
    fail (1 or 2), warn (exit 0 with a "warning:" line, or a clear error), either (clear error or exit 0);
 3. runs each (2 at a time, each with a timeout) and classifies it:
      clear   exit 1/2, no stack trace, one error line `jllm <cmd>: ...` (lines starting with
              "warning:", the JVM's "WARNING:" and picocli's "Try '... --help' for usage." allowed);
              also noted: the exit code was not the expected one (1 vs 2), or the line does not
              name the artifact it should (a file name, option or key, given per case)
      crash   stack trace, "Exception in thread", exit code other than 0/1/2, no error line, a
              multi-line error, or a one-line error that is an internal error, not an explanation
              ("internal error: ...", Java's "... out of bounds for length ...", NPE/cast texts);
              a Java class name inside an otherwise clear line is only noted
      hang    ran past the timeout (killed)
      silent  exit 0 for a case that must fail, or exit 0 without a "warning:" for a must-warn case
      warned  a must-warn case that exited 0 with a warning line
      accepted  exit 0 for a case where success is acceptable ("either") or a control
 4. prints a Markdown table (one row per category, plus a total), then every case that is not
    clear (command, exit code, first 3 lines of stderr without the JVM's WARNING lines).

Run from anywhere (the launcher builds target/jllm.jar on first use):
    python3 tools/hardening/bad_inputs.py                  # everything (about 4 min on 2 cores)
    python3 tools/hardening/bad_inputs.py --only b,c       # some categories (letters or names)
    python3 tools/hardening/bad_inputs.py --grep chat --keep --json results.json
Options: --jobs N (default 2), --timeout S (default 60), --workdir DIR (kept), --keep, --list.
The cases run with JLLM_JAVA_OPTS=-Xmx2g and the work directory as the current directory; every
path in a printed command is absolute, so it can be rerun from the repository root (with --keep).
"""
import argparse, fcntl, json, os, random, re, shlex, shutil, signal, struct, subprocess, sys, tempfile, time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
JLLM = REPO / "jllm"
LLAMA2C = REPO / "src/test/resources/llama2c"
SHARDED = REPO / "src/test/resources/hf/llama_bias"
CATEGORIES = {"0": "controls", "a": "CLI usage", "b": "safetensors", "c": "config.json", "d": "tokenizer",
              "e": "chat template", "f": "adapter", "g": "data (finetune/prepare/train)", "h": "checkpoints & out dirs",
              "i": "NaN/Inf & documented warnings"}
STACK = re.compile(r"^\s+at \S|Exception in thread|^Caused by: ", re.M)
ERROR_LINE = re.compile(r"^jllm( [\w-]+)*: ")
UNEXPLAINED = re.compile(r"internal error|out of bounds for length|Cannot invoke \"|because \"|cannot be cast to class")
JAVA_NAME = re.compile(r"\bjava\.[a-z]+\.[A-Z]\w*|\b[A-Z]\w*(Exception|Error)\b")


@dataclass
class Case:
    cat: str                  # category letter
    name: str
    args: list                # jllm arguments
    expect: str               # usage (exit 2) | input (exit 1) | fail (1 or 2) | warn | either | ok
    mention: str = None       # a string the error (or warning) line should contain
    lock: Path = None         # hold an fcntl lock on this file while the case runs
    rc: int = None
    out: str = ""
    err: str = ""
    secs: float = 0.0
    outcome: str = ""
    why: str = ""
    notes: list = field(default_factory=list)


# ---------------------------------------------------------------- helpers
def sh(args, cwd, timeout=300):
    env = dict(os.environ, JLLM_JAVA_OPTS="-Xmx2g")
    env.pop("JLLM_DEBUG", None)
    p = subprocess.Popen([str(JLLM), *map(str, args)], cwd=cwd, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout)
        return p.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        return None, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


def rjson(p):
    return json.loads(Path(p).read_text())


def wjson(p, obj):
    Path(p).write_text(json.dumps(obj, indent=1) if not isinstance(obj, str) else obj)


def st_read(p):
    """(header dict including __metadata__, data bytes) of a safetensors file."""
    b = Path(p).read_bytes()
    n = struct.unpack("<Q", b[:8])[0]
    return json.loads(b[8:8 + n]), b[8 + n:]


def st_bytes(hdr, data, hlen=None):
    h = hdr if isinstance(hdr, bytes) else json.dumps(hdr, separators=(",", ":")).encode()
    return struct.pack("<Q", len(h) if hlen is None else hlen) + h + data


def st_build(tensors, meta=None):
    """A consistent file from {name: (dtype, shape, raw bytes)}."""
    hdr, off = {"__metadata__": meta or {"format": "pt"}}, 0
    for k, (dt, shape, raw) in tensors.items():
        hdr[k] = {"dtype": dt, "shape": shape, "data_offsets": [off, off + len(raw)]}
        off += len(raw)
    return st_bytes(hdr, b"".join(raw for _, _, raw in tensors.values()))


def st_tensors(p):
    hdr, data = st_read(p)
    return {k: (v["dtype"], v["shape"], data[v["data_offsets"][0]:v["data_offsets"][1]]) for k, v in hdr.items() if k != "__metadata__"}


def st_poke(p, tensor, value, count=1):
    """Overwrite the first `count` float32 values of `tensor` in place."""
    hdr, _ = st_read(p)
    n = struct.unpack("<Q", Path(p).read_bytes()[:8])[0]
    with open(p, "r+b") as f:
        f.seek(8 + n + hdr[tensor]["data_offsets"][0])
        f.write(struct.pack("<%df" % count, *[value] * count))


def deep(n, open_="[", close="]"):
    return open_ * n + close * n


class Work:
    """The temp directory: seeds, and one fresh copy per case."""

    def __init__(self, root):
        self.root = root
        self.seeds = root / "seeds"
        self.n = 0

    def dir(self, cat, name, seed=None):
        self.n += 1
        d = self.root / "cases" / cat / f"{self.n:03d}-{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}"
        if seed is not None:
            shutil.copytree(seed, d, ignore=shutil.ignore_patterns(".jllm.lock"))
        else:
            d.mkdir(parents=True)
        return d

    def make_seeds(self):
        s = self.seeds
        s.mkdir(parents=True)
        self.run, self.gpt2, self.llama = s / "run", s / "gpt2hf", s / "llama"
        self.ft, self.pairs, self.text, self.prep = s / "ft", s / "pairs.jsonl", s / "small.txt", s / "prep"
        self.pairs.write_text("".join(json.dumps({"prompt": f"Question {i}: what hums?", "response": " The gentle vectors hum."}) + "\n"
                                      for i in range(12)))
        shak = REPO.parent / "shared/data/tinyshakespeare.txt"
        self.text.write_text(shak.read_text()[:20000] if shak.exists() else ("To be, or not to be, that is the question.\n" * 500))
        steps = [("train", train_tiny(self.run)),
                 ("convert checkpoint", ["convert", "checkpoint", "--checkpoint", self.run, "--out", self.gpt2]),
                 ("convert llama2c", ["convert", "llama2c", "--checkpoint", LLAMA2C / "aidreams260K.bin", "--tokenizer",
                                      LLAMA2C / "tok512.bin", "--out", self.llama]),
                 ("finetune", ft_tiny(self.llama, self.pairs, self.ft)),
                 ("prepare", ["prepare", "--input", self.text, "--out", self.prep])]
        for what, args in steps:
            t = time.time()
            rc, out, err = sh(args, self.root)
            if rc != 0:
                sys.exit(f"seed step '{what}' failed (exit {rc}):\n{err}{out}")
            print(f"seed: {what} ({time.time() - t:.1f} s)", file=sys.stderr)
        self.ckpt, self.adapter = self.run / "ckpt_last", self.ft / "adapter"


def train_tiny(out, *extra):
    a = ["train", "--progress", "off", "--final-eval-iters", "1", "--sample-tokens", "0", "--set", f"out_dir={out}"]
    for kv in ["max_iters=2", "eval_interval=2", "eval_iters=1", "batch_size=2", "block_size=8", "warmup_iters=1",
               "lr_decay_iters=2", "model.type=gpt", "model.n_layer=1", "model.n_head=2", "model.n_embd=16",
               "model.bias=true", "always_save_checkpoint=true"]:
        a += ["--set", kv]
    return a + list(extra)


def ft_tiny(model, data, out, *extra):
    return ["finetune", "--model", model, "--data", data, "--out", out, "--progress", "off", "--max-iters", "2",
            "--batch-size", "2", "--eval-interval", "2", "--eval-iters", "1", "--lora-r", "2", "--lora-alpha", "4", *extra]


def gen(model, *extra, prompt="Echoes of"):
    return ["generate", "--model", model, "--prompt", prompt, "--max-new-tokens", "3", "--seed", "1", *extra]


def sample(ckpt, *extra, prompt="RO"):
    return ["sample", "--checkpoint", ckpt, "--prompt", prompt, "--max-new-tokens", "3", *extra]


# ---------------------------------------------------------------- categories
def controls(w):
    d = w.dir("0", "out")
    return [Case("0", "info", ["info", "--checkpoint", w.run], "ok"),
            Case("0", "sample", sample(w.run), "ok"),
            Case("0", "generate llama", gen(w.llama), "ok"),
            Case("0", "generate gpt2", gen(w.gpt2, prompt="RO"), "ok"),
            Case("0", "generate adapter", gen(w.llama, "--adapter", w.adapter), "ok"),
            Case("0", "merge-lora", ["convert", "merge-lora", "--model", w.llama, "--adapter", w.adapter, "--out", d / "merged"], "ok"),
            Case("0", "convert hf sharded", ["convert", "hf", "--model", SHARDED, "--out", d / "resharded"], "ok"),
            Case("0", "train on prepared", train_tiny(d / "run", "--set", f"dataset={w.prep}"), "ok"),
            Case("0", "finetune text", ft_tiny(w.llama, w.text, d / "ft"), "ok")]


def setopt(args, opt, value):
    """`args` with `opt` set to `value`: replaced where the tiny settings already give it (picocli refuses an option twice)."""
    args = list(args)
    if opt in args:
        args[args.index(opt) + 1] = value
        return args
    return args + [opt, value]


def usage(w):
    C = lambda name, args, expect="usage", mention=None: Case("a", name, args, expect, mention)
    base, n = w.dir("a", "out"), iter(range(1000))
    u = lambda: base / f"o{next(n)}"   # a fresh out dir per case: a wrongly accepted run must not meet another's lock
    cases = [C("unknown command", ["serve"], mention="serve"), C("unknown command --help", ["serve", "--help"], mention="serve"),
             C("typo command", ["trian"], mention="trian"), C("help unknown", ["help", "serve"], mention="serve"),
             C("empty command", [""]), C("no command", [], "either"), C("convert alone", ["convert"], "either"),
             C("convert unknown", ["convert", "bogus"], mention="bogus"), C("examples unknown", ["examples", "nosuch"], "fail", "nosuch"),
             C("bench unknown", ["bench", "nosuch"], "fail", "nosuch"), C("unknown option", ["train", "--no-such-option"], mention="--no-such-option"),
             C("unknown short option", ["info", "--checkpoint", w.run, "-x"], mention="-x"), C("sample w/o checkpoint", ["sample"], mention="--checkpoint"),
             C("missing value at end", ["sample", "--checkpoint"], mention="--checkpoint"),
             C("generate w/o model", ["generate", "--prompt", "x"], mention="--model"),
             C("generate --model no value", ["generate", "--model"], mention="--model"),
             C("finetune w/o data", ["finetune", "--model", w.llama], mention="--data"),
             C("convert hf w/o args", ["convert", "hf"], mention="--model"),
             C("extra positional", ["info", "--checkpoint", w.run, "extra"], mention="extra"),
             C("option twice", sample(w.run, "--temperature", "1", "--temperature", "2"), mention="--temperature"),
             C("empty value", sample(w.run, "--top-k="), mention="--top-k"),
             C("train --config no value", ["train", "--config"], mention="--config"),
             C("train --preset nosuch", train_tiny(u(), "--preset", "nosuch"), "fail", "nosuch"),
             C("train --progress fancy", setopt(train_tiny(u()), "--progress", "fancy"), mention="--progress"),
             C("prepare --tokenizer bpe", ["prepare", "--input", w.text, "--out", u(), "--tokenizer", "bpe"], mention="--tokenizer")]
    bad = {"--temperature": ["-1", "NaN", "Infinity", "abc"], "--top-k": ["-1", "abc", "2.5"], "--top-p": ["0", "1.5", "-0.5", "NaN"],
           "--max-new-tokens": ["-1", "abc", "99999999999"], "--seed": ["abc", "1.5"]}
    for i, (opt, v) in enumerate((o, v) for o, vals in bad.items() for v in vals):   # alternately on sample and generate
        cases.append(C(f"sample {opt} {v}", setopt(sample(w.run), opt, v), mention=opt) if i % 2 else
                     C(f"generate {opt} {v}", setopt(gen(w.llama), opt, v), mention=opt))
    cases += [C("sample --num-samples 0", sample(w.run, "--num-samples", "0"), mention="--num-samples"),
              C("sample --num-samples -1", sample(w.run, "--num-samples", "-1"), mention="--num-samples"),
              C("sample --max-new-tokens 0", setopt(sample(w.run), "--max-new-tokens", "0"), "either"),
              C("sample --top-k 0 (off)", sample(w.run, "--top-k", "0"), "either"),
              C("generate --top-k 1000000", gen(w.llama, "--top-k", "1000000"), "either"),
              C("generate --system w/o --chat", gen(w.llama, "--system", "be brief"), "either")]
    for opt, v in [("--final-eval-iters", "-1"), ("--final-eval-iters", "abc"), ("--sample-tokens", "-5"), ("--nproc", "0"), ("--nproc", "-1")]:
        cases.append(C(f"train {opt} {v}", setopt(train_tiny(u()), opt, v), mention=opt))
    sets = ["max_iters=-1", "batch_size=0", "batch_size=-2", "block_size=0", "learning_rate=NaN", "learning_rate=-1",
            "eval_interval=0", "eval_iters=0", "model.n_head=3", "model.n_embd=0", "model.n_embd=4294967360",
            "model.dropout=1.5", "model.dropout=NaN", "gradient_accumulation_steps=0", "weight_decay=NaN", "grad_clip=-1",
            "beta2=1.5", "warmup_iters=-1", "min_lr=NaN", "unknown_key=1", "model.unknown=1", "noequals", "max_iters=abc",
            "dataset=nosuch", "model.type=bogus", "seed=abc", "decay_lr=maybe", "zero_stage=7", "ddp_timeout=-1",
            "block_size=2147483647", "init_from=bogus", "out_dir="]
    for kv in sets:
        key = kv.split("=")[0].split(".")[-1]
        cases.append(C(f"train --set {kv}", train_tiny(u(), "--set", kv), "fail", key))
    ft = {"--lora-r": ["0", "-1"], "--lora-alpha": ["NaN", "abc"], "--lora-dropout": ["1.5", "-0.1", "NaN"], "--max-iters": ["-1"],
          "--batch-size": ["0"], "--block-size": ["0", "-1"], "--learning-rate": ["NaN", "-1"], "--eval-interval": ["0"],
          "--eval-iters": ["0"], "--nproc": ["0"], "--progress": ["fancy"]}
    for opt, vals in ft.items():
        for v in vals:
            cases.append(C(f"finetune {opt} {v}", setopt(ft_tiny(w.llama, w.pairs, u()), opt, v), mention=opt))
    cases += [C("finetune --target-modules nope", ft_tiny(w.llama, w.pairs, u(), "--target-modules", "nope"), "fail", "nope"),
              C("finetune --target-modules [", ft_tiny(w.llama, w.pairs, u(), "--target-modules", "["), "fail", "["),
              C("finetune --target-modules ''", ft_tiny(w.llama, w.pairs, u(), "--target-modules", ""), "fail", "--target-modules"),
              C("finetune --set bogus_key=1", ft_tiny(w.llama, w.pairs, u(), "--set", "bogus_key=1"), "fail", "bogus_key")]
    for v in ["1.5", "-0.1", "NaN", "1"]:
        cases.append(C(f"prepare --val-fraction {v}", ["prepare", "--input", w.text, "--out", u(), "--val-fraction", v],
                       "fail", "val"))
    for v in ["lots", "-1GB", "1.5.5GB"]:
        cases.append(C(f"convert hf --max-shard-size {v}", ["convert", "hf", "--model", w.llama, "--out", u(),
                                                            "--max-shard-size", v], mention="--max-shard-size"))
    return cases


def st_mutations(path, seed):
    """(name, bytes, expect) variants of one safetensors file."""
    raw = Path(path).read_bytes()
    hdr, data = st_read(path)
    n = struct.unpack("<Q", raw[:8])[0]
    names = [k for k in hdr if k != "__metadata__"]
    t = next(k for k in names if len(hdr[k]["shape"]) == 2)
    size = lambda k: hdr[k]["data_offsets"][1] - hdr[k]["data_offsets"][0]
    pair = next((a, b) for a in names for b in names if a < b and size(a) == size(b) and a != t and b != t)

    def edit(fn, key=t):
        h = json.loads(json.dumps(hdr))
        fn(h[key]) if key else fn(h)
        return st_bytes(h, data)

    hb = json.dumps(hdr, separators=(",", ":")).encode()
    i = hb.index(t.encode()) + 2
    v = [("empty file", b""), ("5 bytes", raw[:5]), ("header len 2^63-1", struct.pack("<Q", 2**63 - 1) + raw[8:]),
         ("header len 2^40", struct.pack("<Q", 2**40) + raw[8:]), ("header len past EOF", struct.pack("<Q", len(raw)) + raw[8:]),
         ("header len 0", struct.pack("<Q", 0) + raw[8:]), ("header truncated", raw[:8 + n // 2]),
         ("data truncated", raw[:-64]), ("header only", raw[:8 + n]),
         ("header not JSON", st_bytes(bytes(random.Random(seed).randrange(256) for _ in range(n)), data)),
         ("header is array", st_bytes(b"[]", data)), ("header is string", st_bytes(b'"x"', data)),
         ("header invalid UTF-8", st_bytes(hb[:i] + b"\xff" + hb[i + 1:], data)),
         ("header nested 100000 deep", st_bytes(('{"__metadata__":{"x":"y"},"deep":' + deep(100000) + "}").encode(), data)),
         ("dtype F33", edit(lambda e: e.update(dtype="F33"))), ("dtype I32 for floats", edit(lambda e: e.update(dtype="I32"))),
         ("dtype F64", edit(lambda e: e.update(dtype="F64"))), ("dtype BF16 (size mismatch)", edit(lambda e: e.update(dtype="BF16"))),
         ("dtype is a number", edit(lambda e: e.update(dtype=5))),
         ("offsets past data", edit(lambda e: e.update(data_offsets=[e["data_offsets"][0], len(data) + 4096]))),
         ("offsets begin>end", edit(lambda e: e.update(data_offsets=e["data_offsets"][::-1]))),
         ("offsets negative", edit(lambda e: e.update(data_offsets=[-4, e["data_offsets"][1]]))),
         ("offsets strings", edit(lambda e: e.update(data_offsets=[str(x) for x in e["data_offsets"]]))),
         ("offsets 3 numbers", edit(lambda e: e.update(data_offsets=e["data_offsets"] + [0]))),
         ("offsets missing", edit(lambda e: e.pop("data_offsets"))),
         ("offsets 2^64", edit(lambda e: e.update(data_offsets=[0, 2**64]))),
         ("overlapping tensors", edit(lambda h: h[pair[1]].update(data_offsets=h[pair[0]]["data_offsets"]), key=None)),
         ("trailing bytes not covered", raw + b"\0" * 64),
         ("shape/offset mismatch", edit(lambda e: e.update(shape=[e["shape"][0], e["shape"][1] + 1]))),
         ("shape transposed", edit(lambda e: e.update(shape=e["shape"][::-1]))),
         ("shape negative", edit(lambda e: e.update(shape=[-1] + e["shape"][1:]))),
         ("shape 2^32 x 2^32", edit(lambda e: e.update(shape=[2**32, 2**32]))),
         ("shape strings", edit(lambda e: e.update(shape=["a", "b"]))),
         ("tensor missing", edit(lambda h: h.pop(t), key=None)),
         ("tensor renamed", edit(lambda h: h.update({t + "_x": h.pop(t)}), key=None)),
         ("__metadata__ is a number", edit(lambda h: h.update(__metadata__=5), key=None)),
         ("duplicate key", st_bytes(hb[:-1] + b"," + json.dumps({t: hdr[t]}, separators=(",", ":")).encode()[1:], data)),
         ("header padded with spaces (valid)", st_bytes(hb + b" " * 7, data))]
    expect = {"trailing bytes not covered": "either", "header padded with spaces (valid)": "either", "duplicate key": "either"}
    rnd = random.Random(seed)
    for k in range(6):
        b = bytearray(raw)
        p = rnd.randrange(8, 8 + n)
        b[p] ^= 1 << rnd.randrange(8)
        v.append((f"header bit flip #{k} @{p}", bytes(b)))
        expect[v[-1][0]] = "either"
    for k in range(4):
        b = bytearray(raw)
        for _ in range(3):
            b[rnd.randrange(len(b))] = rnd.randrange(256)
        v.append((f"random byte flips #{k}", bytes(b)))
        expect[v[-1][0]] = "either"
    return [(name, b, expect.get(name, "input")) for name, b in v]


def safetensors(w):
    cases = []
    for name, b, exp in st_mutations(w.llama / "model.safetensors", 1):
        d = w.dir("b", "hf " + name, w.llama)
        (d / "model.safetensors").write_bytes(b)
        cases.append(Case("b", "hf model: " + name, gen(d), exp, "model.safetensors"))
    for name, b, exp in st_mutations(w.ckpt / "model.safetensors", 2)[::3]:
        d = w.dir("b", "ckpt " + name, w.run)
        (d / "ckpt_last" / "model.safetensors").write_bytes(b)
        cases.append(Case("b", "checkpoint: " + name, sample(d), exp, "model.safetensors"))
    return cases


def config_json(w):
    cases = []

    def case(seed, name, fn, cmd, expect="input", fname="config.json", mention=None):
        d = w.dir("c", name, seed)
        f = d / fname
        if callable(fn):
            c = rjson(f)
            fn(c)
            wjson(f, c)
        else:
            f.write_bytes(fn) if isinstance(fn, bytes) else f.write_text(fn)
        cases.append(Case("c", name, cmd(d), expect, mention or fname))
        return d

    L = lambda name, fn, expect="input", mention=None: case(w.llama, "llama " + name, fn, gen, expect, mention=mention)
    for k in ["hidden_size", "vocab_size", "num_hidden_layers", "num_attention_heads", "model_type"]:
        L(f"missing {k}", lambda c, k=k: c.pop(k), "either" if k == "model_type" else "input", None if k == "model_type" else k)
    L("missing model_type+architectures", lambda c: (c.pop("model_type"), c.pop("architectures")))
    for k, v, e in [("hidden_size", "64", "input"), ("hidden_size", 4294967360, "input"), ("hidden_size", -64, "input"),
                    ("hidden_size", 63, "input"), ("hidden_size", 64.5, "input"), ("num_hidden_layers", -1, "input"),
                    ("num_hidden_layers", 2, "input"), ("num_hidden_layers", 1000000, "input"),
                    ("num_attention_heads", 0, "input"), ("num_key_value_heads", 3, "input"),
                    ("vocab_size", 1000, "input"), ("vocab_size", 4294967296, "input"), ("max_position_embeddings", 0, "input"),
                    ("intermediate_size", 171, "input"), ("rms_norm_eps", -1, "input"), ("rope_theta", "abc", "input"),
                    ("rope_scaling", {"rope_type": "bogus", "factor": 2.0}, "input"), ("rope_scaling", [1, 2], "input"),
                    ("eos_token_id", 99999, "either"), ("bos_token_id", -5, "either"), ("hidden_act", "relu", "input"),
                    ("tie_word_embeddings", False, "input"), ("torch_dtype", "int8", "either"), ("head_dim", 7, "input"),
                    ("attention_bias", True, "input"), ("unknown_field", 1, "either"),
                    ("model_type", "mistral", "input"), ("architectures", ["MistralForCausalLM"], "either"),
                    ("model_type", "gpt2", "input")]:
        L(f"{k}={json.dumps(v)[:24]}", lambda c, k=k, v=v: c.update({k: v}), e, k)
    L("deeply nested (100000)", '{"a":' + deep(100000) + "}")
    L("invalid UTF-8", (w.llama / "config.json").read_bytes().replace(b'"llama"', b'"ll\xffma"'))
    L("empty", "")
    L("null", "null")
    L("top-level array", "[]")
    L("BOM", b"\xef\xbb\xbf" + (w.llama / "config.json").read_bytes(), "either")
    L("NaN literal", (w.llama / "config.json").read_text().replace("1.0E-5", "NaN"))
    L("trailing garbage", (w.llama / "config.json").read_text() + "}{")
    d = w.dir("c", "llama config is a directory", w.llama)
    (d / "config.json").unlink()
    (d / "config.json").mkdir()
    cases.append(Case("c", "llama config is a directory", gen(d), "input", "config.json"))
    d = w.dir("c", "llama config symlink loop", w.llama)
    (d / "config.json").unlink()
    os.symlink("config.json", d / "config.json")
    cases.append(Case("c", "llama config symlink loop", gen(d), "input", "config.json"))
    d = w.dir("c", "llama config missing", w.llama)
    (d / "config.json").unlink()
    cases.append(Case("c", "llama config missing", gen(d), "input", "config.json"))
    G = lambda name, fn, expect="input", mention=None: case(w.gpt2, "gpt2 " + name, fn, lambda d: gen(d, prompt="RO"), expect, mention=mention)
    for k, v in [("n_embd", "16"), ("n_embd", 4294967360), ("n_head", 3), ("n_positions", 4), ("n_layer", 2), ("n_layer", 0),
                 ("activation_function", "bogus"), ("layer_norm_epsilon", "x"), ("vocab_size", 10)]:
        G(f"{k}={json.dumps(v)}", lambda c, k=k, v=v: c.update({k: v}), mention=k)
    G("missing n_embd", lambda c: c.pop("n_embd"), mention="n_embd")
    S = lambda name, fn, expect="input": case(SHARDED, "sharded " + name, fn, lambda d: ["convert", "hf", "--model", d, "--out", d / "out"],
                                              expect, fname="model.safetensors.index.json")
    idx = rjson(SHARDED / "model.safetensors.index.json")
    k0 = sorted(idx["weight_map"])[0]
    S("index not JSON", "{")
    S("index without weight_map", lambda c: c.pop("weight_map"))
    S("index names missing shard", lambda c: c["weight_map"].update({k0: "model-00009-of-00009.safetensors"}))
    S("index maps to wrong shard", lambda c: c["weight_map"].update({k0: next(v for v in set(idx["weight_map"].values())
                                                                           if v != idx["weight_map"][k0])}))
    S("index path traversal", lambda c: c["weight_map"].update({k0: "../../../../etc/passwd"}))
    S("index drops a tensor", lambda c: c["weight_map"].pop(k0))
    S("index weight_map is a list", lambda c: c.update(weight_map=[1, 2]))
    return cases


def tokenizer(w):
    cases = []
    tj = (w.llama / "tokenizer.json").read_bytes()

    def T(name, fn, expect="input", fname="tokenizer.json", seed=None, cmd=gen, mention=None):
        d = w.dir("d", name, seed or w.llama)
        f = d / fname
        if callable(fn):
            c = rjson(f)
            fn(c)
            wjson(f, c)
        elif fn is None:
            f.unlink()
        else:
            f.write_bytes(fn) if isinstance(fn, bytes) else f.write_text(fn)
        cases.append(Case("d", name, cmd(d), expect, mention or fname))

    T("truncated", tj[:len(tj) // 2])
    T("empty", b"")
    T("missing", None)
    T("not JSON", "tokenizer")
    T("invalid UTF-8", tj.replace(b'"<unk>"', b'"<un\xff>"', 1))
    T("model is a string", lambda c: c.update(model="BPE"), mention="model")
    T("model.type WordPiece", lambda c: c["model"].update(type="WordPiece"), mention="WordPiece")
    T("model.type missing", lambda c: c["model"].pop("type"), "either")
    T("vocab missing", lambda c: c["model"].pop("vocab"), mention="vocab")
    T("vocab is a list", lambda c: c["model"].update(vocab=list(c["model"]["vocab"])), mention="vocab")
    T("vocab id is a string", lambda c: c["model"]["vocab"].update({"in": "7"}), mention="vocab")
    T("vocab id negative", lambda c: c["model"]["vocab"].update({"in": -7}), mention="vocab")
    T("added token (in the prompt) id 600 > model's 512", lambda c: c["added_tokens"].append({"id": 600, "content": "Echo", "special": False}),
      mention="600")
    T("vocab id 2^31", lambda c: c["model"]["vocab"].update({"Echo": 2**31}), mention="vocab")
    T("vocab duplicate ids", lambda c: c["model"]["vocab"].update({"in": 3}), "either")
    T("merges missing", lambda c: c["model"].pop("merges"), "either")
    T("merges are numbers", lambda c: c["model"].update(merges=[1, 2, 3]), mention="merges")
    T("merge of unknown tokens", lambda c: c["model"]["merges"].insert(0, "zz qq"), "either")
    T("merge with 3 parts", lambda c: c["model"]["merges"].insert(0, "a b c"))
    T("added_tokens is an object", lambda c: c.update(added_tokens={"a": 1}), mention="added_tokens")
    T("added token id beyond vocab", lambda c: c["added_tokens"].append({"id": 9999, "content": "<x>", "special": True}), mention="9999")
    T("normalizer type bogus", lambda c: c.update(normalizer={"type": "Bogus"}), )
    T("pre_tokenizer type bogus", lambda c: c.update(pre_tokenizer={"type": "Bogus"}), )
    T("decoder type bogus", lambda c: c.update(decoder={"type": "Bogus"}), )
    T("post_processor bogus", lambda c: c.update(post_processor={"type": "Bogus"}), )
    T("nested 100000 deep", '{"model":' + deep(100000) + "}")
    T("gpt2 char tokenizer truncated", (w.gpt2 / "tokenizer.json").read_bytes()[:300], seed=w.gpt2,
      cmd=lambda d: gen(d, prompt="RO"))
    T("gpt2 split regex invalid", lambda c: c["pre_tokenizer"]["pattern"].update(Regex="[a-"), seed=w.gpt2,
      cmd=lambda d: gen(d, prompt="RO"))
    tc = "tokenizer_config.json"
    T("config not JSON", "{", fname=tc)
    T("config bos_token a number", lambda c: c.update(bos_token=5), fname=tc, mention="bos_token")
    T("config bos_token not in vocab", lambda c: c.update(bos_token="<nope>"), fname=tc, mention="<nope>")
    T("config add_bos_token 'yes'", lambda c: c.update(add_bos_token="yes"), fname=tc, mention="add_bos_token")
    T("config model_max_length -1", lambda c: c.update(model_max_length=-1), "either", fname=tc)
    return cases


def chat(w):
    cases = []

    def C(name, template, expect="input", mention=None, jinja=False):
        d = w.dir("e", name, w.llama)
        if jinja:
            (d / "chat_template.jinja").write_text(template)
        else:
            c = rjson(d / "tokenizer_config.json")
            c["chat_template"] = template
            wjson(d / "tokenizer_config.json", c)
        cases.append(Case("e", name, gen(d, "--chat", prompt="hi"), expect, mention))

    r = "{% for a in range(1000) %}{% for b in range(1000) %}{% for c in range(1000) %}x{% endfor %}{% endfor %}{% endfor %}"
    C("control: valid template", "{% for m in messages %}{{ m['content'] }}{% endfor %}", "either")
    C("unclosed for", "{% for m in messages %}{{ m['content'] }}", mention="for")
    C("unclosed expression", "{{ messages[0]['content'] ", mention="chat template")
    C("unknown tag", "{% frobnicate %}", mention="frobnicate")
    C("unknown filter", "{{ messages | frobnicate }}", mention="frobnicate")
    C("unknown function", "{{ frobnicate() }}", mention="frobnicate")
    C("raise_exception", "{{ raise_exception('only user and assistant roles are supported') }}", mention="only user and assistant")
    C("three nested range(1000)", r, mention="chat template")
    C("range(10**9)", "{% for a in range(1000000000) %}x{% endfor %}", mention="chat template")
    C("string repeat 1e9", "{{ 'x' * 1000000000 }}", mention="chat template")
    C("recursive macro", "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", mention="chat template")
    C("nested parentheses 20000", "{{ " + deep(20000, "(", ")").replace("()", "(1)") + " }}", mention="chat template")
    C("include file", "{% include '/etc/passwd' %}", mention="/etc/passwd")
    C("include relative", "{% include 'tokenizer.json' %}", mention="tokenizer.json")
    C("import file", "{% import '/etc/hostname' as h %}{{ h }}", mention="/etc/hostname")
    C("extends file", "{% extends '/etc/passwd' %}", mention="/etc/passwd")
    C("java reflection", "{{ ''.getClass().forName('java.lang.Runtime').getRuntime().exec('touch /tmp/jllm-pwned') }}", "either")
    C("index out of range", "{{ messages[99]['content'] }}", "either")
    C("template is a number", 5, mention="chat_template")
    C("template list without default", [{"name": "tool_use", "template": "x"}], mention="chat_template")
    C("template empty", "", "either")
    C("chat_template.jinja syntax error", "{% for m in messages %}", mention="chat_template.jinja", jinja=True)
    return cases


def adapter(w):
    cases, base = [], st_tensors(w.adapter / "adapter_model.safetensors")
    k0 = sorted(base)[0]

    def A(name, fn=None, expect="input", mention=None, tensors=None, cmd=None, fname="adapter_config.json"):
        mention = mention or ("adapter_config.json" if tensors is None else "adapter_model.safetensors")
        d = w.dir("f", name, w.adapter)
        if fn is not None:
            if callable(fn):
                c = rjson(d / fname)
                fn(c)
                wjson(d / fname, c)
            elif fn == "delete":
                (d / fname).unlink()
            else:
                (d / fname).write_text(fn)
        if tensors is not None:
            (d / "adapter_model.safetensors").write_bytes(st_build(tensors))
        cases.append(Case("f", name, (cmd or (lambda d: gen(w.llama, "--adapter", d)))(d), expect, mention))

    for k, v, e in [("task_type", "SEQ_CLS", "input"), ("use_dora", True, "input"), ("lora_bias", True, "input"),
                    ("bias", "all", "either"), ("bias", "lora_only", "either"), ("peft_type", "PREFIX_TUNING", "input"),
                    ("r", 0, "input"), ("r", -1, "input"), ("r", "2", "input"), ("r", 4, "input"), ("lora_alpha", "x", "input"),
                    ("target_modules", ["nope"], "input"), ("target_modules", 5, "input"),
                    ("target_modules", ".*\\.(q_proj|v_proj)", "either"), ("modules_to_save", ["lm_head"], "input"),
                    ("layers_to_transform", [0], "input"), ("rank_pattern", {"q_proj": 4}, "input"),
                    ("alpha_pattern", {"q_proj": "x"}, "input"), ("use_rslora", "yes", "input"),
                    ("init_lora_weights", "gaussian", "either"), ("fan_in_fan_out", True, "warn"), ("my_unknown_key", 1, "warn")]:
        A(f"{k}={json.dumps(v)[:30]}", lambda c, k=k, v=v: c.update({k: v}), e, k)
    A("peft_type missing", lambda c: c.pop("peft_type"), "either")
    A("config not JSON", "{")
    A("config empty", "")
    A("config is an array", "[]")
    A("config missing", "delete")
    A("weights missing", "delete", fname="adapter_model.safetensors", mention="adapter_model.safetensors")
    d = w.dir("f", "only adapter_model.bin", w.adapter)
    (d / "adapter_model.safetensors").rename(d / "adapter_model.bin")
    cases.append(Case("f", "only adapter_model.bin (pickle)", gen(w.llama, "--adapter", d), "input", "adapter_model"))
    drop = dict(base)
    drop.pop(k0.replace("lora_A", "lora_B"))
    A("lora_B tensor missing", tensors=drop, mention="lora_B")
    bad = dict(base)
    bad[k0] = ("F32", [3, 64], b"\0" * 3 * 64 * 4)
    A("lora_A misshapen [3,64]", tensors=bad, mention=k0)
    A("extra tensor for k_proj", tensors={**base, k0.replace("q_proj", "k_proj"): base[k0]}, expect="warn", mention="k_proj")
    A("extra tensor lm_head", tensors={**base, "base_model.model.lm_head.weight": ("F32", [512, 64], b"\0" * 512 * 64 * 4)},
      expect="warn", mention="lm_head")
    A("keys without base_model.model.", tensors={k.replace("base_model.model.", ""): v for k, v in base.items()})
    A("tensors I32", tensors={k: ("I32", s, r) for k, (_, s, r) in base.items()}, mention="I32")
    A("tensors F16 (valid)", tensors={k: ("F16", s, struct.pack("<%de" % (len(r) // 4), *struct.unpack("<%df" % (len(r) // 4), r)))
                                      for k, (_, s, r) in base.items()}, expect="either")
    A("no tensors", tensors={}, mention="adapter_model.safetensors")
    A("adapter on the gpt2 model", cmd=lambda d: gen(w.gpt2, "--adapter", d, prompt="RO"), mention="q_proj")
    A("merge-lora with use_dora", lambda c: c.update(use_dora=True), mention="use_dora",
      cmd=lambda d: ["convert", "merge-lora", "--model", w.llama, "--adapter", d, "--out", d / "merged"])
    A("merge-lora misshapen", tensors=bad, mention=k0,
      cmd=lambda d: ["convert", "merge-lora", "--model", w.llama, "--adapter", d, "--out", d / "merged"])
    return cases


def data(w):
    cases = []

    def F(name, content, expect="input", mention=None, suffix=".jsonl"):
        d = w.dir("g", name)
        f = d / ("data" + suffix)
        f.write_bytes(content if isinstance(content, bytes) else content.encode())
        cases.append(Case("g", "finetune: " + name, ft_tiny(w.llama, f, d / "out"), expect, mention or f.name))

    good = w.pairs.read_text()
    F("invalid UTF-8", good.encode() + b'{"prompt": "a\xff", "response": "b"}\n', mention="line 13")
    F("missing response", good + '{"prompt": "only"}\n', mention="line 13")
    F("prompt is a number", good + '{"prompt": 5, "response": "x"}\n', mention="line 13")
    F("line not JSON", good + "not json\n", mention="line 13")
    F("line is an array", good + "[1, 2]\n", mention="line 13")
    F("empty file", "")
    F("only blank lines", "\n\n\n")
    F("one example", good.splitlines()[0] + "\n", "either")
    F("empty response", "".join(json.dumps({"prompt": f"q{i}", "response": ""}) + "\n" for i in range(12)), "either")
    F("unknown fields", "".join(json.dumps({"prompt": f"q{i}", "response": "a", "extra": 1}) + "\n" for i in range(12)), "either")
    F("huge line (1 MB response)", good + json.dumps({"prompt": "q", "response": "hum " * 250000}) + "\n", "either")
    F("BOM", b"\xef\xbb\xbf" + good.encode(), "either")
    F("text invalid UTF-8", w.text.read_bytes()[:4000] + b"\xc3\x28" + w.text.read_bytes()[4000:8000], mention="line", suffix=".txt")
    F("text empty", "", suffix=".txt")
    F("text shorter than a block", "hi", suffix=".txt")
    F("random bytes as text", random.Random(3).randbytes(20000), suffix=".bin")
    d = w.dir("g", "fifo")
    os.mkfifo(d / "fifo.txt")
    cases += [Case("g", "finetune: data is a directory", ft_tiny(w.llama, d, d / "o1"), "input", str(d)),
              Case("g", "finetune: data missing", ft_tiny(w.llama, d / "nope.jsonl", d / "o2"), "input", "nope.jsonl"),
              Case("g", "finetune: data /dev/zero", ft_tiny(w.llama, "/dev/zero", d / "o3"), "input", "/dev/zero"),
              Case("g", "prepare: input is a FIFO", ["prepare", "--input", d / "fifo.txt", "--out", d / "p0"], "input", "fifo.txt"),
              Case("g", "prepare: input /dev/zero", ["prepare", "--input", "/dev/zero", "--out", d / "p1"], "input", "/dev/zero")]
    for name, content, exp in [("invalid UTF-8", b"abc\n\xff\xfe\n", "input"), ("empty", b"", "input"), ("one char", b"a", "input"),
                               ("huge line (4 MB, no newline)", b"ab" * 2000000, "either")]:
        f = w.dir("g", "prep " + name) / "in.txt"
        f.write_bytes(content)
        cases.append(Case("g", "prepare: " + name, ["prepare", "--input", f, "--out", f.parent / "p"], exp, "in.txt"))
    f = w.dir("g", "prep out file") / "taken"
    f.write_text("x")
    cases.append(Case("g", "prepare: --out is a file", ["prepare", "--input", w.text, "--out", f], "input", "taken"))

    def P(name, fn, mention):
        d = w.dir("g", "dataset " + name, w.prep)
        fn(d)
        cases.append(Case("g", "train dataset: " + name, train_tiny(d / "run", "--set", f"dataset={d}"), "input", mention))

    P("meta.json missing", lambda d: (d / "meta.json").unlink(), "meta.json")
    P("meta.json not JSON", lambda d: (d / "meta.json").write_text("{"), "meta.json")
    P("meta vocab_size 10", lambda d: wjson(d / "meta.json", {**rjson(d / "meta.json"), "vocab_size": 10}), "vocab")
    P("meta vocab_size -1", lambda d: wjson(d / "meta.json", {**rjson(d / "meta.json"), "vocab_size": -1}), "vocab_size")
    P("train.bin odd length", lambda d: (d / "train.bin").write_bytes((d / "train.bin").read_bytes()[:-1]), "train.bin")
    P("train.bin empty", lambda d: (d / "train.bin").write_bytes(b""), "train.bin")
    P("train.bin ids >= vocab", lambda d: (d / "train.bin").write_bytes(b"\xff\xff" * 18000), "train.bin")
    P("val.bin missing", lambda d: (d / "val.bin").unlink(), "val.bin")
    return cases


def checkpoints(w):
    cases = []

    def K(name, fn, cmd=sample, expect="input", mention=None):
        d = w.dir("h", name, w.run)
        fn(d, d / "ckpt_last")
        cases.append(Case("h", name, cmd(d), expect, mention))

    info = lambda d: ["info", "--checkpoint", d]
    resume = lambda d: train_tiny(d, "--resume", "--set", "max_iters=4")
    tr = lambda b: (lambda d, c: (c / "model.safetensors").write_bytes((c / "model.safetensors").read_bytes()[:b]))
    K("weights truncated (sample)", tr(3000), mention="model.safetensors")
    K("weights truncated (info)", tr(3000), info, mention="model.safetensors")
    K("weights truncated (convert)", tr(3000), lambda d: ["convert", "checkpoint", "--checkpoint", d, "--out", d / "hf"], mention="model.safetensors")
    K("weights missing", lambda d, c: (c / "model.safetensors").unlink(), mention="model.safetensors")
    K("config.json missing", lambda d, c: (c / "config.json").unlink(), mention="config.json")
    K("config.json not JSON", lambda d, c: (c / "config.json").write_text("{"), mention="config.json")
    K("config n_embd 32", lambda d, c: wjson(c / "config.json", {**rjson(c / "config.json"),
                                                                "model": {**rjson(c / "config.json")["model"], "n_embd": 32}}))
    K("config model.type bogus", lambda d, c: wjson(c / "config.json", {**rjson(c / "config.json"),
                                                                       "model": {**rjson(c / "config.json")["model"], "type": "bogus"}}), mention="bogus")
    K("config n_head 0", lambda d, c: wjson(c / "config.json", {**rjson(c / "config.json"),
                                                               "model": {**rjson(c / "config.json")["model"], "n_head": 0}}), mention="n_head")
    K("tokenizer.json missing", lambda d, c: (d / "tokenizer.json").unlink(), mention="tokenizer")
    K("tokenizer.json not JSON", lambda d, c: (d / "tokenizer.json").write_text("{"), mention="tokenizer.json")
    K("tokenizer chars wrong type", lambda d, c: wjson(d / "tokenizer.json", {"type": "char", "chars": 5}), mention="chars")
    K("tokenizer chars duplicated", lambda d, c: wjson(d / "tokenizer.json", {"type": "char", "chars": ["a"] * 65}), mention="chars")
    K("tokenizer 10 chars for vocab 65", lambda d, c: wjson(d / "tokenizer.json", {"type": "char", "chars": list("ROMEabcdef")}), mention="tokenizer.json")
    K("tokenizer type bogus", lambda d, c: wjson(d / "tokenizer.json", {"type": "bogus"}), mention="bogus")
    K("trainer_state missing (info)", lambda d, c: (c / "trainer_state.json").unlink(), info, mention="trainer_state.json")
    K("trainer_state not JSON (info)", lambda d, c: (c / "trainer_state.json").write_text("{"), info, mention="trainer_state.json")
    K("trainer_state iter_num string", lambda d, c: wjson(c / "trainer_state.json", {**rjson(c / "trainer_state.json"), "iter_num": "x"}),
      info, mention="iter_num")
    K("trainer_state format_version 99", lambda d, c: wjson(c / "trainer_state.json", {**rjson(c / "trainer_state.json"),
                                                                                      "format_version": 99}), info, mention="format_version")
    K("resume: optimizer truncated", lambda d, c: (c / "optimizer.safetensors").write_bytes(b"\0" * 20), resume, mention="optimizer.safetensors")
    K("resume: optimizer missing", lambda d, c: (c / "optimizer.safetensors").unlink(), resume, mention="optimizer.safetensors")
    K("resume: rng_states wrong", lambda d, c: wjson(c / "trainer_state.json", {**rjson(c / "trainer_state.json"),
                                                                               "rng_states": {"default": [1]}}), resume, mention="rng")
    K("resume: no checkpoint", lambda d, c: shutil.rmtree(c), resume, mention=None)
    K("resume: stale lock file (dead pid)", lambda d, c: (d / ".jllm.lock").write_text("999999999\n"), resume, "either")
    d = w.dir("h", "locked", w.run)
    cases.append(Case("h", "train: out_dir locked by a live process", train_tiny(d, "--set", "max_iters=4"), "input", "in use",
                      lock=d / ".jllm.lock"))
    e = w.dir("h", "misc")
    (e / "file").write_text("x")
    (e / "nonempty").mkdir()
    (e / "nonempty" / "keep.txt").write_text("keep")
    same = w.dir("h", "same", w.llama)
    for name, args, mention in [
            ("sample: checkpoint is a file", sample(e / "file"), "file"), ("sample: empty dir", sample(e / "nonempty"), "nonempty"),
            ("info: /proc", info("/proc"), "/proc"), ("info: /dev/null", info("/dev/null"), "/dev/null"),
            ("info: nonexistent", info(e / "nope"), "nope"),
            ("train: out_dir in /proc", train_tiny("/proc/jllm-bad"), "/proc"), ("train: out_dir /proc/self", train_tiny("/proc/self"), "/proc/self"),
            ("train: out_dir is a file", train_tiny(e / "file"), "file"), ("train: out_dir under a file", train_tiny(e / "file" / "sub"), "file"),
            ("convert checkpoint: --out a file", ["convert", "checkpoint", "--checkpoint", w.run, "--out", e / "file"], "file"),
            ("convert checkpoint: --out /proc/x", ["convert", "checkpoint", "--checkpoint", w.run, "--out", "/proc/x"], "/proc/x"),
            ("convert hf: --out non-empty dir", ["convert", "hf", "--model", w.llama, "--out", e / "nonempty"], "nonempty"),
            ("convert hf: --out same as --model", ["convert", "hf", "--model", same, "--out", same], str(same)),
            ("finetune: --out is a file", ft_tiny(w.llama, w.pairs, e / "file"), "file"),
            ("convert llama2c: --out non-empty", ["convert", "llama2c", "--checkpoint", LLAMA2C / "aidreams260K.bin", "--out",
                                                 e / "nonempty"], "nonempty")]:
        # --out naming the --model directory is an option conflict: bad usage (2) as well as bad input (1) is right
        cases.append(Case("h", name, args, "fail" if "same as --model" in name else "input", mention))
    bin_ = (LLAMA2C / "aidreams260K.bin").read_bytes()
    tok = (LLAMA2C / "tok512.bin").read_bytes()
    hdr = list(struct.unpack("<7i", bin_[:28]))
    for name, b, t, mention in [("truncated", bin_[:len(bin_) // 2], None, "aidreams"), ("header only", bin_[:28], None, "aidreams"),
                                ("dim negative", struct.pack("<7i", -64, *hdr[1:]) + bin_[28:], None, "dim"),
                                ("n_heads 0", struct.pack("<7i", *hdr[:3], 0, *hdr[4:]) + bin_[28:], None, "head"),
                                ("dim not divisible by heads", struct.pack("<7i", 62, *hdr[1:]) + bin_[28:], None, "dim"),
                                ("vocab 2^31-1", struct.pack("<7i", *hdr[:5], 2**31 - 1, hdr[6]) + bin_[28:], None, "vocab"),
                                ("seq_len 0", struct.pack("<7i", *hdr[:6], 0) + bin_[28:], None, "seq_len"),
                                ("tokenizer truncated", bin_, tok[:len(tok) // 2], "tok"),
                                ("tokenizer negative length", bin_, tok[:8] + struct.pack("<i", -5) + tok[12:], "tok"),
                                ("tokenizer huge length", bin_, tok[:8] + struct.pack("<i", 2**30) + tok[12:], "tok")]:
        d = w.dir("h", "llama2c " + name)
        (d / "aidreams.bin").write_bytes(b)
        args = ["convert", "llama2c", "--checkpoint", d / "aidreams.bin", "--out", d / "out"]
        if t is not None:
            (d / "tok.bin").write_bytes(t)
            args += ["--tokenizer", d / "tok.bin"]
        cases.append(Case("h", "llama2c: " + name, args, "input", mention))
    return cases


def nan_warnings(w):
    cases = []

    def N(name, seed, rel, tensor, value, cmd, count=1):
        d = w.dir("i", name, seed)
        st_poke(d / rel, tensor, value, count)
        cases.append(Case("i", name, cmd(d), "warn", tensor))

    q = "model.layers.0.self_attn.q_proj.weight"
    N("hf: NaN in q_proj", w.llama, "model.safetensors", q, float("nan"), gen)
    N("hf: +Inf in embed_tokens", w.llama, "model.safetensors", "model.embed_tokens.weight", float("inf"), gen)
    N("hf: NaN everywhere in embed_tokens", w.llama, "model.safetensors", "model.embed_tokens.weight", float("nan"), gen, 512 * 64)
    N("hf convert: NaN in q_proj", w.llama, "model.safetensors", q, float("nan"), lambda d: ["convert", "hf", "--model", d, "--out", d / "o"])
    N("hf finetune: NaN in q_proj", w.llama, "model.safetensors", q, float("nan"), lambda d: ft_tiny(d, w.pairs, d / "o"))
    N("checkpoint: NaN in lm_head", w.run, "ckpt_last/model.safetensors", "lm_head.weight", float("nan"), sample)
    N("checkpoint convert: -Inf", w.run, "ckpt_last/model.safetensors", "lm_head.weight", float("-inf"),
      lambda d: ["convert", "checkpoint", "--checkpoint", d, "--out", d / "hf"])
    k = sorted(st_tensors(w.adapter / "adapter_model.safetensors"))[0]
    N("adapter: NaN in lora_A", w.adapter, "adapter_model.safetensors", k, float("nan"), lambda d: gen(w.llama, "--adapter", d))
    cases += [Case("i", "generate: prompt longer than context", gen(w.gpt2, prompt="ROMEO: what light through yonder"), "warn", "context"),
              Case("i", "generate: 100 KB prompt", gen(w.llama, prompt="hum " * 25000), "warn", "context"),
              Case("i", "sample: prompt longer than context", sample(w.run, prompt="ROMEO: what light through yonder"), "warn", "context"),
              Case("i", "generate --no-truncate long prompt", gen(w.gpt2, "--no-truncate", prompt="ROMEO: what light through yonder"),
                   "input", "--no-truncate"),
              Case("i", "sample --no-truncate long prompt", sample(w.run, "--no-truncate", prompt="ROMEO: what light through yonder"),
                   "input", "--no-truncate")]
    return cases


BUILDERS = [("0", controls), ("a", usage), ("b", safetensors), ("c", config_json), ("d", tokenizer), ("e", chat),
            ("f", adapter), ("g", data), ("h", checkpoints), ("i", nan_warnings)]


# ---------------------------------------------------------------- running and classifying
def run_case(c, cwd, timeout):
    fd = None
    if c.lock:
        fd = os.open(c.lock, os.O_RDWR | os.O_CREAT)
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    t = time.time()
    try:
        c.rc, c.out, c.err = sh(c.args, cwd, timeout)
    finally:
        if fd is not None:
            os.close(fd)
    c.secs = time.time() - t
    classify(c)
    return c


def err_lines(err):
    return [l for l in err.splitlines() if l.strip() and not l.startswith("WARNING:")]


def names(line, mention):
    """Whether an error line names `mention` (case-insensitive; option dashes and key underscores alike)."""
    norm = lambda x: x.lower().replace("_", "-")
    return norm(mention).lstrip("-") in norm(line)


def classify(c):
    lines = err_lines(c.err)
    warns = [l for l in lines if l.lower().startswith("warning:")]
    first = next((i for i, l in enumerate(lines) if ERROR_LINE.match(l)), None)
    block = [l for l in lines[first:] if not l.lower().startswith("warning:") and not re.match(r"^Try '.*--help' for usage\.$", l)] \
        if first is not None else []
    if c.rc is None:
        c.outcome, c.why = "hang", f"killed after {c.secs:.0f} s"
    elif STACK.search(c.err):
        c.outcome, c.why = "crash", "stack trace"
    elif c.rc not in (0, 1, 2):
        c.outcome, c.why = "crash", f"exit code {c.rc}"
    elif c.rc == 0:
        if c.expect in ("usage", "input", "fail"):
            c.outcome, c.why = "silent", "exit 0 for bad input"
        elif c.expect == "warn":
            c.outcome, c.why = ("warned", "") if warns else ("silent", "exit 0 without a warning")
            if warns and c.mention and not any(names(l, c.mention) for l in warns):
                c.notes.append(f"warning does not name '{c.mention}'")
        else:
            c.outcome = "accepted"
    elif first is None:
        c.outcome, c.why = "crash", "no 'jllm ...: ' error line"
    elif len(block) > 1:
        c.outcome, c.why = "crash", f"{len(block)}-line error"
    elif UNEXPLAINED.search(block[0]):
        c.outcome, c.why = "crash", "an internal error, not an explanation"
    else:
        c.outcome = "clear"
        want = {"usage": 2, "input": 1}.get(c.expect)
        if want and c.rc != want:
            c.notes.append(f"exit {c.rc}, expected {want}")
        if c.mention and not any(names(l, c.mention) for l in block + (warns if c.expect == "warn" else [])):
            c.notes.append(f"does not name '{c.mention}'")
        if JAVA_NAME.search(block[0]):
            c.notes.append("a Java class name in the message")
    if c.expect == "ok" and c.outcome != "accepted":
        c.why = "CONTROL FAILED (valid input refused): " + (c.why or c.outcome)


COLS = [("clear", "clear error"), ("crash", "crash"), ("hang", "hang"), ("silent", "silent wrong"),
        ("warned", "warned as documented"), ("accepted", "accepted (valid/either)")]


def report(cases, elapsed, work):
    print(f"\n# jllm bad-input harness: {len(cases)} cases in {elapsed / 60:.1f} min (work dir {work})\n")
    print("| category | tried | " + " | ".join(h for _, h in COLS) + " | clear, but exit code not the expected | clear, but not naming the artifact |")
    print("|---" * (len(COLS) + 4) + "|")
    rows = [(f"({k}) {v}", [c for c in cases if c.cat == k]) for k, v in CATEGORIES.items()]
    for label, cs in rows + [("**total**", cases)]:
        if not cs:
            continue
        counts = [sum(c.outcome == o for c in cs) for o, _ in COLS]
        code = sum(any(n.startswith("exit") for n in c.notes) for c in cs if c.outcome == "clear")
        named = sum(any(n.startswith("does not name") for n in c.notes) for c in cs if c.outcome == "clear")
        print(f"| {label} | {len(cs)} | " + " | ".join(map(str, counts)) + f" | {code} | {named} |")
    bad = [c for c in cases if c.outcome in ("crash", "hang", "silent") or c.why.startswith("CONTROL")]
    print(f"\n## Not clear ({len(bad)})\n")
    for c in bad:
        print(f"- ({c.cat}) {c.name}: **{c.outcome}** ({c.why}); exit {'-' if c.rc is None else c.rc}; expected {c.expect}; {c.secs:.1f} s")
        print("  `./jllm " + " ".join(shlex.quote(str(a)) if len(str(a)) < 200 else "'<%d chars>'" % len(str(a)) for a in c.args) + "`")
        for l in err_lines(c.err)[:3]:
            print("      " + l[:300])
    imperfect = [c for c in cases if c.notes]
    print(f"\n## Clear or warned, but imperfect ({len(imperfect)})\n")
    for c in imperfect:
        line = next((l for l in err_lines(c.err) if ERROR_LINE.match(l) or l.lower().startswith("warning:")), "")
        print(f"- ({c.cat}) {c.name}: {'; '.join(c.notes)}\n      {line[:300]}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--only", help="comma-separated category letters or name parts")
    ap.add_argument("--grep", help="only cases whose name contains this")
    ap.add_argument("--workdir", help="work directory (kept)")
    ap.add_argument("--keep", action="store_true", help="keep the temp work directory")
    ap.add_argument("--list", action="store_true", help="list the cases, run nothing but the seeds")
    ap.add_argument("--json", help="write the results here")
    a = ap.parse_args()
    root = Path(a.workdir).resolve() if a.workdir else Path(tempfile.mkdtemp(prefix="jllm-bad-inputs-"))
    if a.workdir:
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
    t0 = time.time()
    rc, _, err = sh(["--version"], root, 600)   # builds target/jllm.jar when stale
    if rc != 0:
        sys.exit("jllm --version failed:\n" + err)
    w = Work(root)
    w.make_seeds()
    only = [s.strip() for s in a.only.split(",")] if a.only else None
    cases = []
    for k, fn in BUILDERS:
        if only and not any(o == k or len(o) > 1 and o.lower() in CATEGORIES[k].lower() for o in only):
            continue
        cases += [c for c in fn(w) if not a.grep or a.grep.lower() in c.name.lower()]
    if a.list:
        for c in cases:
            print(f"({c.cat}) {c.name} [{c.expect}]")
        return
    print(f"running {len(cases)} cases, {a.jobs} at a time, timeout {a.timeout:.0f} s ...", file=sys.stderr)
    done = 0
    with ThreadPoolExecutor(a.jobs) as pool:
        for c in pool.map(lambda c: run_case(c, root, a.timeout), cases):
            done += 1
            if c.outcome in ("crash", "hang", "silent") or done % 25 == 0:
                print(f"  [{done}/{len(cases)}] ({c.cat}) {c.name}: {c.outcome}", file=sys.stderr)
    report(cases, time.time() - t0, root if (a.keep or a.workdir) else "deleted")
    if a.json:
        Path(a.json).write_text(json.dumps([{k: (str(v) if isinstance(v, Path) else v) for k, v in vars(c).items()}
                                            | {"args": [str(x) for x in c.args]} for c in cases], indent=1))
    if not (a.keep or a.workdir):
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
