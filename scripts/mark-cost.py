#!/usr/bin/env python3
"""Memory cost of storing a block's owner mark with glibc malloc on 64-bit Linux, computed exactly.

glibc serves a request of n bytes from a chunk of request2size(n) = max(32, (n + 8 + 15) & ~15)
bytes (8 bytes of chunk header, 16-byte granules). The ratio of chunk bytes with the mark to
chunk bytes without it is what the mark costs in heap memory.
Run: python3 scripts/mark-cost.py
"""


def chunk(n):
    return max(32, (n + 8 + 15) & ~15)


def cost(sizes, extra):
    return sum(chunk(s + extra) for s in sizes) / sum(chunk(s) for s in sizes)


small = list(range(8, 257))
mixed = small * 9 + list(range(257, 4097, 16))
powers = [1 << k for k in range(3, 13)]
print("| request sizes | 2-byte trailer | 4-byte trailer | 8-byte trailer | 16-byte header |")
print("|---|---|---|---|---|")
for name, sizes in [("every size 8..256", small), ("90% 8..256, 10% to 4 KiB", mixed),
                    ("powers of two 8..4096", powers)]:
    cells = " | ".join(f"{cost(sizes, extra):.3f}x" for extra in (2, 4, 8, 16))
    print(f"| {name} | {cells} |")
