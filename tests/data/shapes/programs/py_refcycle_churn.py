# Template renderer: every request builds a DOM-like tree whose nodes point to
# their parent and children (reference cycles), renders it and drops it.  Only
# the cyclic GC can free these; with default thresholds it runs constantly.
# HEALTHY, STABLE (GC-heavy churn of cyclic garbage).
import random, time

T0 = time.monotonic()


class Node:
    __slots__ = ("tag", "parent", "children", "attrs")

    def __init__(self, tag, parent=None):
        self.tag, self.parent, self.children = tag, parent, []
        self.attrs = {"class": f"c{random.randrange(50)}"}
        if parent is not None:
            parent.children.append(self)


def render(i):
    root = Node("html")
    stack = [root]
    for k in range(300):
        n = Node(f"div{k % 7}", random.choice(stack))
        stack.append(n)
    out = []
    todo = [root]
    while todo:
        n = todo.pop()
        out.append(n.tag)
        todo.extend(n.children)
    return len("".join(out))


def main():
    n = 0
    while True:
        t = time.monotonic() - T0
        if t > 120:
            break
        while n < int(150 * t):
            render(n); n += 1
        time.sleep(0.01)


main()
