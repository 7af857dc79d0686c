"""Colour ramps for heatmaps that need no matplotlib: the terminal heatmap and the HTML page.

Each ramp is matplotlib's colormap sampled at 17 evenly spaced points (0, 1/16, ..., 1) and
interpolated linearly, so a terminal heatmap and a PNG of the same map agree to the eye. Other
matplotlib colormap names work when matplotlib is installed.
"""

from __future__ import annotations

from attncli.errors import AttnError

RGB = tuple[int, int, int]

_STOPS = {
    "viridis": "440154 48186a 472d7b 424086 3b528b 33638d 2c728e 26828e 21918c 1fa088 28ae80 3fbc73 5ec962 "
               "84d44b addc30 d8e219 fde725",
    "magma": "000004 0a0822 1d1147 36106b 51127c 6a1c81 832681 9c2e7f b73779 d0416f e75263 f56b5c fc8961 fea772 "
             "fec488 fde2a3 fcfdbf",
    "inferno": "000004 0b0724 210c4a 3d0965 57106e 71196e 8a226a a32c61 bc3754 d24644 e45a31 f1731d f98e09 fcac11 "
               "f9cb35 f2ea69 fcffa4",
    "plasma": "0d0887 310597 4c02a1 6600a7 7e03a8 9511a1 aa2395 bc3587 cc4778 da5a6a e66c5c f0804e f89540 fdac33 "
              "fdc527 f8df25 f0f921",
    "cividis": "00224e 002e6a 1a386f 32436d 434e6c 535a6d 61656f 6f7073 7d7c78 8c8878 9b9476 aba072 bcae6c cdbb63 "
               "dec958 f0d846 fee838",
    "Blues": "f7fbff eaf3fb deebf7 d2e3f3 c6dbef b2d2e8 9dcae1 84bcdb 6aaed6 56a0ce 4191c6 3181bd 2070b4 1460a8 "
             "08509b 084082 08306b",
    "Greys": "ffffff f7f7f7 f0f0f0 e4e4e4 d9d9d9 cbcbcb bdbdbd a9a9a9 959595 848484 727272 626262 515151 3a3a3a "
             "242424 111111 000000",
    "RdBu_r": "053061 175290 2a71b2 3f8ec0 6bacd1 9bc9e0 c2ddec e0ecf3 f7f6f6 fbe5d8 fbccb4 f5aa89 e48066 d05548 "
              "ba2832 930e26 67001f",
    "coolwarm": "3b4cc0 4e68d8 6282ea 779af7 8db0fe a3c2fe b9d0f9 ccd9ed dddcdc ecd3c5 f5c4ac f7b093 f4987a eb7d62 "
                "dd5f4b ca3b37 b40426",
}
BUILTIN = tuple(_STOPS)
SEQUENTIAL, DIVERGING = "viridis", "RdBu_r"  # defaults: weights ≥ 0, and signed values (scores, q, k, ...)


def default_cmap(signed: bool) -> str:
    return DIVERGING if signed else SEQUENTIAL


def _hex(h: str) -> RGB:
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


def _builtin(name: str) -> list[RGB] | None:
    """The stops of a built-in ramp; names match case-insensitively, `_r` reverses."""
    lookup = {k.lower(): k for k in _STOPS}
    key = name.lower()
    if key in lookup:
        return [_hex(h) for h in _STOPS[lookup[key]].split()]
    if key.endswith("_r") and key[:-2] in lookup:
        return [_hex(h) for h in reversed(_STOPS[lookup[key[:-2]]].split())]
    return None


def palette(name: str, n: int = 256) -> list[RGB]:
    """`n` colours from 0 to 1 along the colormap `name` (built-in, else matplotlib's if installed)."""
    stops = _builtin(name)
    if stops is None:
        return _matplotlib_palette(name, n)
    out = []
    last = len(stops) - 1
    for i in range(n):
        t = i / (n - 1) * last
        j = min(int(t), last - 1)
        f = t - j
        a, b = stops[j], stops[j + 1]
        out.append(tuple(round(a[c] + (b[c] - a[c]) * f) for c in range(3)))
    return out


def _matplotlib_palette(name: str, n: int) -> list[RGB]:
    known = ", ".join(BUILTIN)
    try:
        import matplotlib
    except ImportError:
        raise AttnError(f"--cmap: unknown colormap {name!r}; without matplotlib choose from {known} "
                        "(any matplotlib colormap works after pip install 'attncli[plot]')") from None
    try:
        cmap = matplotlib.colormaps[name]
    except KeyError:
        raise AttnError(f"--cmap: unknown colormap {name!r}; try {known}, or any matplotlib colormap name") from None
    return [tuple(round(c * 255) for c in cmap(i / (n - 1))[:3]) for i in range(n)]


def luminance(rgb: RGB) -> float:
    """Relative luminance in [0, 1] (sRGB weights), to pick black or white text on a cell."""
    r, g, b = (c / 255 for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def text_on(rgb: RGB) -> RGB:
    """Black text on light cells, white on dark ones."""
    return (0, 0, 0) if luminance(rgb) > 0.45 else (255, 255, 255)


def hex_of(rgb: RGB) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)
