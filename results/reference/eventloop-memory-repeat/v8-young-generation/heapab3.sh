#!/bin/bash
cd /tmp/exp2/main
export MODEL_CPUS=2 NOFILE_LIMIT=20000
printf 'services:\n  eventloop:\n    environment:\n      NODE_OPTIONS: "--max-semi-space-size=16"\n' > /tmp/flags.yml
docker compose -p concurrency-models -f docker-compose.yml -f /tmp/flags.yml up -d --no-deps eventloop 2>&1 | tail -1
sleep 20; docker ps --format '{{.Names}} {{.Status}}' | grep eventloop
for i in 1 2 3; do /tmp/heaprun.sh maxsemi16-$i; done
docker compose -p concurrency-models -f docker-compose.yml up -d --no-deps eventloop 2>&1 | tail -1
sleep 15; echo "restored: NODE_OPTIONS=[$(docker exec concurrency-models-eventloop-1 printenv NODE_OPTIONS)]"
echo "=== done $(date -u +%H:%M:%S)"
