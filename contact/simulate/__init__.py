"""One traffic model of a city: scenarios, queueing theory (Erlang C/A), a discrete-event
simulator for staffing, and a driver that plays the model against a real `contact serve`
through its public edges only (HTTP API, WebSocket, webhooks)."""
