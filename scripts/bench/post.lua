-- wrk script: POST /sign-orchestrator-info the way a go-livepeer gateway does
-- (the body is ignored by the signer; a small JSON body keeps the request realistic).
wrk.method = "POST"
wrk.path = "/sign-orchestrator-info"
wrk.body = "{}"
wrk.headers["Content-Type"] = "application/json"
