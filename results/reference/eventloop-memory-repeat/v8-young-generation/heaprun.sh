#!/bin/bash
# one run of the 5,000-held direct level for the event loop, with V8's heap spaces read every 2 s from its /metrics
tag=$1
cd /tmp/exp2/main
export PATH=$HOME/.cache/concurrency-models/node-v24.21.0/node_modules/.bin:$PATH
out=/tmp/heap-$tag.txt; : > $out
( while true; do t=$(date +%s); curl -s -m 2 http://127.0.0.1:8081/metrics | grep -E '^nodejs_heap_space_size_(used|total)_bytes|^container_memory_bytes|^nodejs_external_memory_bytes|^process_resident_memory_bytes' | sed "s/^/$t /" >> $out; sleep 2; done ) &
scr=$!
echo "=== $tag $(date -u +%H:%M:%S) NODE_OPTIONS in container: $(docker exec concurrency-models-eventloop-1 printenv NODE_OPTIONS)"
timeout 400 make load PROFILE=direct5000only MODELS=eventloop 2>&1 | grep -E "ok/s, p50|INVALID|rror" | cut -c1-330
kill $scr
