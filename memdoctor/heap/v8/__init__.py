"""V8 (Node.js) heap engine: snapshot parser, dominators, retainer paths, diff, capture by PID."""
