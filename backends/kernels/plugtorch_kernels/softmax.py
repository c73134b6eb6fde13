"""softmax and log_softmax along one dim, in one kernel (the frontend's decomposition takes
five launches: amax, sub, exp, sum, div).

NOTE [softmax kernel]
Work-item m handles line m: the elements along `dim` at one position of the other dims. It
makes four passes over the line: its max (NaN tracked apart, as the reductions do, NOTE
[reduction loops] in reductions.py); e = exp(x - max) into `out`; the sum of e; then the
result, e / sum or (x - max) - log(sum), over `out`. The sums keep SA independent
accumulators, and the other passes are plain loops: a CPU device (PoCL) turns each pass
into vector code (an exp inside an unrolled reduction stays scalar there, 5x slower), and
the line stays in its cache between passes, so the input is read from memory once. A line
of unit stride takes a loop of its own, so the compiler sees the unit stride. A line that
holds a NaN, or only -inf, gives NaN throughout, as the decomposition does; float16 keeps
e in `out` rounded to float16, as the decomposition's exp does.
"""
from .cl_source import CTYPE, VTYPE, preamble, load, store

SA = 8      # accumulators of the max and the sum

_TEMPLATE = r"""
#define UNIT (st == 1 && ost == 1)
KERNEL void softmax(GLOBAL %(T)s* out, GLOBAL const %(T)s* x, geo_t xg, geo_t og, dims_t ks,
                    int knd, long st, long ost, long M, long L) {
    long m = GID(0);
    if (m >= M) return;
    long p = at(m, ks, knd, xg), q = at(m, ks, knd, og);
    long t;
    /* the max */
%(MDECL)s
    t = 0;
    if (st == 1) {
        for (; t + %(SA)d <= L; t += %(SA)d) {
%(MAX1)s
        }
    } else {
        for (; t + %(SA)d <= L; t += %(SA)d) {
%(MAXS)s
        }
    }
    for (; t < L; ++t) { A v = %(XT)s; a0 = v > a0 ? v : a0; f0 |= (v != v); }
%(MFOLD)s
    A mx = f0 ? (A)NAN : a0;
    /* e = exp(x - max), kept in out */
    if (UNIT) {
        for (t = 0; t < L; ++t) %(EXP1)s;
    } else {
        for (t = 0; t < L; ++t) %(EXPS)s;
    }
    /* the sum of e */
    %(SDECL)s
    t = 0;
    if (UNIT) {
        for (; t + %(SA)d <= L; t += %(SA)d) {
%(SUM1)s
        }
    } else {
        for (; t + %(SA)d <= L; t += %(SA)d) {
%(SUMS)s
        }
    }
    for (; t < L; ++t) s0 += %(OT)s;
%(SFOLD)s
    /* the result */
%(RESULT)s
    if (UNIT) {
        for (t = 0; t < L; ++t) %(WRITE1)s;
    } else {
        for (t = 0; t < L; ++t) %(WRITES)s;
    }
}
"""


def softmax_source(dt, log):
    """Source of softmax (log_softmax when `log`) along a dim of dtype dt."""
    def xl(unit, i=None):
        t = "t" if i is None else f"t + {i}"
        return load(dt, "x", f"p + {t}" if unit else f"p + ({t}) * st")

    def oi(unit, i=None):
        t = "t" if i is None else f"t + {i}"
        return f"q + {t}" if unit else f"q + ({t}) * ost"

    mdecl = ("    " + " ".join(f"A a{i} = -INFINITY;" for i in range(SA)) + "\n    "
             + " ".join(f"int f{i} = 0;" for i in range(SA)))
    sdecl = " ".join(f"A s{i} = 0;" for i in range(SA))

    def maxes(unit):
        return "\n".join(f"            {{ A v = {xl(unit, i)}; a{i} = v > a{i} ? v : a{i}; "
                         f"f{i} |= (v != v); }}" for i in range(SA))

    def sums(unit):
        return "\n".join(f"            s{i} += {load(dt, 'out', oi(unit, i))};"
                         for i in range(SA))

    def fold(a, flags):
        lines, n = [], SA
        while n > 1:
            h = n // 2
            for i in range(h):
                if flags:
                    lines.append(f"    a{i} = a{i + h} > a{i} ? a{i + h} : a{i}; "
                                 f"f{i} |= f{i + h};")
                else:
                    lines.append(f"    {a}{i} += {a}{i + h};")
            n = h
        return "\n".join(lines)

    def exp_store(unit):
        return store(dt, "out", oi(unit), f"exp({xl(unit)} - mx)")

    if log:
        result = "    A lse = log(s0);"
        write = lambda unit: store(dt, "out", oi(unit), f"({xl(unit)} - mx) - lse")  # noqa
    else:
        result = ""
        write = lambda unit: store(dt, "out", oi(unit),  # noqa: E731
                                   f"{load(dt, 'out', oi(unit))} / s0")
    return preamble(dt) + f"typedef {VTYPE[dt]} A;\n" + _TEMPLATE % {
        "T": CTYPE[dt], "SA": SA, "MDECL": mdecl, "SDECL": sdecl, "MAX1": maxes(True),
        "MAXS": maxes(False), "SUM1": sums(True), "SUMS": sums(False),
        "MFOLD": fold("a", True), "SFOLD": fold("s", False), "XT": xl(False),
        "OT": load(dt, "out", oi(False)), "EXP1": exp_store(True), "EXPS": exp_store(False),
        "RESULT": result, "WRITE1": write(True), "WRITES": write(False)}
