# Flask job worker; a load thread POSTs jobs. MODE=all: every job result kept in a list (LEAK)
# MODE=last100: collections.deque(maxlen=100) (HEALTHY)
import sys, threading, time, urllib.request, logging, collections, json, random
# needs: pip install flask==3.1.3 cachetools==8.0.3
from flask import Flask, request, jsonify
MODE = sys.argv[1]; PORT = int(sys.argv[2])
logging.getLogger("werkzeug").setLevel(logging.ERROR)
app = Flask(__name__)
job_results = [] if MODE == "all" else collections.deque(maxlen=100)
@app.route("/job", methods=["POST"])
def job():
    data = request.get_json()
    n = data["n"]
    scratch = [random.random() for _ in range(20000)]    # temporary garbage per job
    result = {"id": data["id"], "values": [x * 2 for x in scratch[:n]], "sum": sum(scratch)}
    job_results.append(result)
    return jsonify(ok=True, kept=len(job_results))
def load():
    time.sleep(1.0); i = 0
    while True:
        t0 = time.time()
        for _ in range(5):
            i += 1
            req = urllib.request.Request(f"http://127.0.0.1:{PORT}/job", data=json.dumps({"id": i, "n": 200}).encode(),
                                         headers={"Content-Type": "application/json"})
            try: urllib.request.urlopen(req, timeout=5).read()
            except Exception as e: print("load err", e, file=sys.stderr)
        time.sleep(max(0, 0.25 - (time.time() - t0)))   # ~20 jobs/s
threading.Thread(target=load, daemon=True).start()
app.run(host="127.0.0.1", port=PORT, threaded=True)
