"""einsum, decomposed into diagonal, sum, expand, permute, reshape and matmul.

NOTE [einsum by pairwise matmul]
Each operand is first reduced on its own: a label repeated inside one operand ("ii")
becomes a diagonal, and a label that no other operand and not the output uses is summed
out. Operands are then combined left to right; for a pair, the labels both share and that
are still needed are batch dims, the labels both share and that are no longer needed are
contracted, and the rest belong to one side. Permuting to (batch, left, contracted) and
(batch, contracted, right) and reshaping to three dims makes the pair one `matmul`. So
einsum has no kernel of its own, runs on every backend, and its gradient (double backward
included) comes from the parts. A size-1 dim broadcasts against a larger one of the same
label, as PyTorch allows.
"""
from .._tensor import Tensor, numel_of

_ELLIPSIS_LABELS = [chr(0x3B1 + i) for i in range(24)]   # Greek: never a user's letter


def _parse(equation, operands):
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    subs = lhs.split(",")
    if len(subs) != len(operands):
        which = "more" if len(operands) > len(subs) else "fewer"
        raise RuntimeError(f"einsum(): {which} operands were provided than specified in the "
                           f"equation")
    n_ell = 0
    for s, t in zip(subs, operands):
        if "..." in s:
            n_ell = max(n_ell, t.dim() - (len(s) - 3))
    labels = []
    for k, (s, t) in enumerate(zip(subs, operands)):
        if s.count("...") > 1 or ("." in s.replace("...", "")):
            raise RuntimeError(f"einsum(): found '.' for operand {k} that is not part of any "
                             f"ellipsis")
        bad = [c for c in s.replace("...", "") if not c.isalpha()]
        if bad:
            raise RuntimeError(f"einsum(): invalid subscript given at index {s.index(bad[0])} "
                             f"in the equation string, subscripts must be in [a-zA-Z]")
        fixed = len(s.replace("...", ""))
        if ("..." in s and t.dim() < fixed) or ("..." not in s and t.dim() != fixed):
            raise RuntimeError(f"einsum(): the number of subscripts in the equation ({fixed}) "
                               f"does not match the number of dimensions ({t.dim()}) for "
                               f"operand {k}" + ("" if "..." in s else " and no ellipsis was "
                                                 "given"))
        ell = _ELLIPSIS_LABELS[n_ell - (t.dim() - fixed):n_ell] if "..." in s else []
        head, _, tail = s.partition("...")
        labels.append(list(head) + ell + list(tail))
    if arrow:
        if "..." in rhs:
            head, _, tail = rhs.partition("...")
            out = list(head) + _ELLIPSIS_LABELS[:n_ell] + list(tail)
        else:
            out = list(rhs)
        for c in out:
            if out.count(c) > 1:
                raise RuntimeError(f"einsum(): output subscript {c} appears more than once in the "
                                 f"output")
            if not any(c in ls for ls in labels):
                raise RuntimeError(f"einsum(): output subscript {c} does not appear in the "
                                 f"equation for any input operand")
    else:
        flat = [c for ls in labels for c in ls]
        out = _ELLIPSIS_LABELS[:n_ell] + sorted(c for c in set(flat) if flat.count(c) == 1
                                                and c not in _ELLIPSIS_LABELS)
    return labels, out


def _sizes(labels, operands):
    size = {}
    for k, (ls, t) in enumerate(zip(labels, operands)):
        for c, n in zip(ls, t.shape):
            m = size.get(c, n)
            if n != m and 1 not in (n, m):
                raise RuntimeError(f"einsum(): subscript {c} has size {n} for operand {k} which "
                                   f"does not broadcast with previously seen size {m}")
            size[c] = n if m == 1 else m      # a size-1 dim broadcasts (also to 0)
    return size


def _reduce_alone(t, ls, needed):
    """Diagonals for labels repeated in t, then sum out labels nobody else needs."""
    ls = list(ls)
    for c in dict.fromkeys(ls):
        while ls.count(c) > 1:
            i = ls.index(c)
            j = ls.index(c, i + 1)
            t = t.diagonal(0, i, j)                      # the diagonal goes last
            ls = [x for k, x in enumerate(ls) if k not in (i, j)] + [c]
    drop = [k for k, c in enumerate(ls) if c not in needed]
    if drop:
        t = t.sum(tuple(drop))
        ls = [c for k, c in enumerate(ls) if k not in drop]
    return t, ls


def _pair(a, la, b, lb, keep, size):
    """Contract a and b over their shared labels not in `keep` (one matmul)."""
    batch = [c for c in la if c in lb and c in keep]
    con = [c for c in la if c in lb and c not in keep]
    left = [c for c in la if c not in lb]
    right = [c for c in lb if c not in la]
    a = a.permute([la.index(c) for c in batch + left + con])
    b = b.permute([lb.index(c) for c in batch + con + right])
    a = a.expand([size[c] for c in batch] + list(a.shape[len(batch):len(batch) + len(left)])
                 + [size[c] for c in con])
    b = b.expand([size[c] for c in batch + con] + list(b.shape[len(batch) + len(con):]))
    nb = [size[c] for c in batch]
    nl = list(a.shape[len(batch):len(batch) + len(left)])
    nr = list(b.shape[len(batch) + len(con):])
    nk = numel_of([size[c] for c in con])
    r = a.reshape(numel_of(nb), numel_of(nl), nk) @ b.reshape(numel_of(nb), nk, numel_of(nr))
    return r.reshape(nb + nl + nr), batch + left + right


def einsum(equation, *operands):
    """Einstein summation: products of operands summed over the labels absent from the
    output, e.g. "bij,bjk->bik" is a batched matmul. Supports "->" with an explicit output
    (or the implicit output: labels used once, sorted), repeated labels (diagonals) and
    "..." for broadcast batch dims.

    Args:
        equation: subscripts such as "ij,jk->ik".
        *operands: the tensors (or one list of tensors).

    Example:
        >>> import plugtorch
        >>> a = plugtorch.ones(2, 3); b = plugtorch.ones(3, 4)
        >>> plugtorch.einsum("ij,jk->ik", a, b).shape
        plugtorch.Size([2, 4])
    """
    if not isinstance(equation, str):
        raise TypeError(f"einsum(): argument 'equation' must be str, not "
                        f"{type(equation).__name__}")
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not operands:
        raise RuntimeError("einsum(): must provide at least one operand")
    for t in operands:
        if not isinstance(t, Tensor):
            raise TypeError(f"einsum(): expected Tensor operands, got {type(t).__name__}")
    labels, out = _parse(equation, operands)
    size = _sizes(labels, operands)
    ts = list(operands)
    for k in range(len(ts)):
        needed = set(out).union(*(labels[j] for j in range(len(ts)) if j != k))
        ts[k], labels[k] = _reduce_alone(ts[k], labels[k], needed)
    t, lt = ts[0], labels[0]
    for k in range(1, len(ts)):
        keep = set(out).union(*labels[k + 1:])
        t, lt = _pair(t, lt, ts[k], labels[k], keep, size)
        t, lt = _reduce_alone(t, lt, keep)
    t = t.permute([lt.index(c) for c in out])
    return t.expand([size[c] for c in out])
