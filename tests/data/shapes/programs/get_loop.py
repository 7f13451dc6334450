# GETs 127.0.0.1:PORT/req/<i> at RATE requests/s, a unique path per request (the recordings *_170s and *_105s).
# usage: get_loop.py PORT RATE
import sys,time,urllib.request
port=int(sys.argv[1]); rate=float(sys.argv[2]); i=0
time.sleep(1.5)
while True:
    t=time.time()
    try: urllib.request.urlopen(f'http://127.0.0.1:{port}/req/{i}',timeout=2).read()
    except Exception: pass
    i+=1; time.sleep(max(0,1/rate-(time.time()-t)))
