"""Derivatives of the host statements (Brian2's loop invariants, the affine map) in float64, for float32
layers.

Differentiating the statements in float32 on the device cancels catastrophically where Brian2's
closed forms subtract nearly equal terms (the `exact` solution of an adaptive LIF). Here each
statement's derivative with respect to each input is computed on the host in float64 by the complex
step: `d f / d x = Im f(x + i h) / h` with `h = 1e-20 |x|`, exact to float64 rounding (no subtraction),
for every input at once per input name (the statements are elementwise over neurons). Comparisons and
the piecewise-constant functions (`timestep`, `int`, `floor`, `ceil`, `sign`, `abs`'s sign, `clip`'s
bounds) act on the real part, as their derivative (zero, or the branch's) requires.
"""

import ast

import numpy as np


class _Real(ast.NodeTransformer):
    """Comparisons on the real parts: `a > b` -> `_re(a) > _re(b)`."""

    def visit_Compare(self, node):
        node = self.generic_visit(node)
        wrap = lambda n: ast.Call(func=ast.Name(id="_re", ctx=ast.Load()), args=[n], keywords=[])
        return ast.Compare(
            left=wrap(node.left), ops=node.ops, comparators=[wrap(c) for c in node.comparators]
        )


def _complex_env(base: dict) -> dict:
    re = np.real
    env = dict(base)
    env.update(
        _re=re,
        abs=lambda z: z * np.sign(re(z)),
        sign=lambda z: np.sign(re(z)),
        floor=lambda z: np.floor(re(z)),
        ceil=lambda z: np.ceil(re(z)),
        int=lambda z: np.trunc(re(z)),
        timestep=lambda z, d: np.trunc((re(z) + 1e-3 * re(d)) / re(d)).astype(np.int64),
        clip=lambda z, lo, hi: np.where(re(z) < re(lo), lo, np.where(re(z) > re(hi), hi, z)),
        exprel=lambda z: np.where(z == 0, 1.0, np.expm1(z) / np.where(z == 0, 1.0, z)),
    )
    return env


def jacobian(statements, names, keys, values, base: dict) -> list:
    """`[d name / d key for name in names for key in keys]`, each an array of the inputs' broadcast
    shape (float64), of the statements run from `{key: value}` in the NumPy environment `base`."""
    code = [
        compile(ast.fix_missing_locations(_Real().visit(ast.parse(s))), "<statement>", "exec")
        for s in statements
    ]
    arrays = [np.asarray(v, np.float64) for v in values]
    shape = np.broadcast_shapes(*(a.shape for a in arrays))
    out = [[None] * len(keys) for _ in names]
    for j, key in enumerate(keys):
        env = {**_complex_env(base), **{k: a.astype(complex) for k, a in zip(keys, arrays, strict=True)}}
        step = 1e-20 * np.where(arrays[j] != 0, np.abs(arrays[j]), 1.0)
        env[key] = arrays[j] + 1j * step
        with np.errstate(all="ignore"):
            for statement in code:
                exec(statement, {}, env)
        for i, name in enumerate(names):
            derivative = np.imag(np.asarray(env[name], complex)) / step
            out[i][j] = np.broadcast_to(derivative, shape)
    return [d for row in out for d in row]
