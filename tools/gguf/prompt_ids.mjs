// The prompts of the llama.cpp benchmark scripts: n ordinary token ids (past the specials), the
// same for a given seed.
export function ids(n, seed) {
    const out = [];
    let s = seed * 2654435761 % 4294967296;
    for (let i = 0; i < n; i++) {
        s = (s * 1664525 + 1013904223) % 4294967296;
        out.push(3 + (s % 200));
    }
    return out;
}
