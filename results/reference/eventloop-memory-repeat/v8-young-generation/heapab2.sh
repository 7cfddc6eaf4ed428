#!/bin/bash
while pgrep -f "heaprun.sh default1" >/dev/null; do sleep 3; done
for i in 2 3; do /tmp/heaprun.sh default$i; done
cd /tmp/exp2/main
export MODEL_CPUS=2 NOFILE_LIMIT=20000
printf 'services:\n  eventloop:\n    environment:\n      NODE_OPTIONS: "--min-semi-space-size=16 --max-semi-space-size=16"\n' > /tmp/flags.yml
docker compose -p concurrency-models -f docker-compose.yml -f /tmp/flags.yml up -d --no-deps eventloop 2>&1 | tail -2
sleep 15
for i in 1 2 3; do /tmp/heaprun.sh semi16-$i; done
docker compose -p concurrency-models -f docker-compose.yml up -d --no-deps eventloop 2>&1 | tail -2
echo "=== done $(date -u +%H:%M:%S)"
