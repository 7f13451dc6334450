"""A FastAPI app served by uvicorn with a deliberate leak: every request appends to a module-level list."""

import sys

import uvicorn
from fastapi import FastAPI

app = FastAPI()
PENDING_EVENTS = []


@app.get("/")
async def index():
    PENDING_EVENTS.append({"kind": "hit", "body": "x" * 2000 + str(len(PENDING_EVENTS))})
    return {"ok": True}


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
