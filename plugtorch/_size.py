"""`Size`: the tuple subclass returned by `Tensor.shape`."""


class Size(tuple):
    __slots__ = ()

    def __repr__(self):
        return f"plugtorch.Size([{', '.join(str(s) for s in self)}])"

    def numel(self):
        n = 1
        for s in self:
            n *= s
        return n

    def __getitem__(self, i):
        r = tuple.__getitem__(self, i)
        return Size(r) if isinstance(i, slice) else r

    def __add__(self, other):
        return Size(tuple(self) + tuple(other))
