// A node http server keeping {2 KB Buffer, the headers as JSON} per request in a Map keyed by its unique URL:
// 'nosweep' never evicts (node_map_nosweep_105s), 'sweep' deletes entries older than 20 s every second
// (node_map_ttl_105s, ~800 entries). usage: node node_http_map.js MODE PORT, loaded by get_loop.py PORT 40
const http=require('http');const [mode,port]=[process.argv[2],+process.argv[3]];
const m=new Map();const TTL=20000;
http.createServer((req,res)=>{m.set(req.url,{t:Date.now(),b:Buffer.alloc(2048,1),h:JSON.stringify(req.headers)});res.end('ok');}).listen(port,'127.0.0.1');
if(mode==='sweep') setInterval(()=>{const now=Date.now();for(const [k,v] of m) if(now-v.t>TTL) m.delete(k);},1000);
