package main

import (
	"net/http"
	"os"
	"time"
)

// healthcheck is the Docker HEALTHCHECK (the runtime image has no curl): GET /healthz
// on this container's own port; liveness only, so a database outage fails /readyz,
// not the container.
func healthcheck() int {
	port := os.Getenv("PORT")
	if port == "" {
		port = "3000"
	}
	client := http.Client{Timeout: 4 * time.Second}
	res, err := client.Get("http://127.0.0.1:" + port + "/healthz")
	if err != nil {
		return 1
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return 1
	}
	return 0
}
