#!/usr/bin/env bash
# Runs the official openai npm client (check.mjs) against `jllm serve` on the tiny aidreams260K Llama
# with a chat template and two LoRA adapters fine-tuned on the spot, then the chat page at GET / in a
# real browser (chat_check.mjs: puppeteer-core driving Debian's chromium, `apt-get install chromium`;
# CHROMIUM=PATH for another one). Needs node >= 18 and npm.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
work="$(mktemp -d)"
trap 'kill "${pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT
(cd "$here" && npm ci --silent --no-audit --no-fund)
jllm="$root/jllm"
"$jllm" convert llama2c --checkpoint "$root/src/test/resources/llama2c/aidreams260K.bin" \
  --tokenizer "$root/src/test/resources/llama2c/tok512.bin" --out "$work/aidreams" >/dev/null
node -e '
const fs = require("fs"), f = process.argv[1], c = JSON.parse(fs.readFileSync(f));
c.chat_template = "{% for m in messages %}{{ bos_token }}[{{ m[\"role\"] }}] {{ m[\"content\"] }}\n{% endfor %}{% if add_generation_prompt %}[assistant] {% endif %}";
fs.writeFileSync(f, JSON.stringify(c, null, 2));' "$work/aidreams/tokenizer_config.json"
for name in cats dogs; do
  for i in $(seq 0 11); do echo "{\"prompt\": \"Question $i:\", \"response\": \" The $name are happy.\"}"; done > "$work/$name.jsonl"
  "$jllm" finetune --model "$work/aidreams" --data "$work/$name.jsonl" --out "$work/ft-$name" --progress plain --max-iters 20 \
    --batch-size 4 --eval-interval 20 --eval-iters 1 --learning-rate 1e-2 --lora-r 4 >/dev/null
done
key="sk-local-$RANDOM"
"$jllm" serve --model "$work/aidreams" --adapter "cats=$work/ft-cats/adapter" --adapter "dogs=$work/ft-dogs/adapter" \
  --port 0 --api-key "$key" >"$work/serve.out" 2>"$work/serve.err" &
pid=$!
for _ in $(seq 1 300); do grep -q "listening on" "$work/serve.out" 2>/dev/null && break; sleep 0.1; done
url="$(grep -o 'http://[^ ]*/v1' "$work/serve.out")"
cat "$work/serve.out"
JLLM_URL="$url" JLLM_KEY="$key" JLLM_BASE=aidreams JLLM_ADAPTERS=cats,dogs node "$here/check.mjs"
JLLM_URL="$url" JLLM_KEY="$key" JLLM_BASE=aidreams node "$here/chat_check.mjs"
kill -TERM "$pid"
wait "$pid" || true
tail -2 "$work/serve.err"
