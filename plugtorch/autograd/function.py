"""Custom autograd functions (filled in below)."""


class Function:
    pass


def Variable(data, requires_grad=False, volatile=False):
    t = data.detach()
    t.requires_grad = requires_grad
    return t
