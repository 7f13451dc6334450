import random
import sys
import time

RUN_FOR = float(sys.argv[1]) if len(sys.argv) > 1 else 150


class Node:
    __slots__ = ("children", "key", "parent", "payload", "peer")

    def __init__(self, key, parent=None):
        self.key = key
        self.payload = [random.random() for _ in range(8)]
        self.parent = parent
        self.children = []
        self.peer = None


def build_graph(n):
    root = Node(0)
    nodes = [root]
    for i in range(1, n):
        parent = nodes[random.randrange(len(nodes))]
        child = Node(i, parent)
        parent.children.append(child)
        nodes.append(child)
    for a in nodes:
        a.peer = nodes[random.randrange(n)]
    return root


def score(root):
    total, stack = 0.0, [root]
    while stack:
        nd = stack.pop()
        total += nd.payload[0]
        stack.extend(nd.children)
    return total


if __name__ == "__main__":
    t_end = time.time() + RUN_FOR
    while time.time() < t_end:
        g = build_graph(random.randint(100_000, 180_000))
        score(g)
        del g
        time.sleep(0.3)
