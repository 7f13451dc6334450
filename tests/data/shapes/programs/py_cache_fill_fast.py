# functools.lru_cache(maxsize=6000) filled by random keys from a space of 30000 (healthy, plateau)
import time, random, functools
@functools.lru_cache(maxsize=6000)
def render(k):
    return ("<p>%d</p>" % k) * 400
while True:
    for _ in range(20):
        render(random.randint(0, 30000))
    time.sleep(0.01)
