"""Azure Functions bindings (Python v2 model). Only bindings live here:
each function parses its trigger, delegates to api/, jobs/ or notify/, and answers.

Every HTTP function uses the FastAPI extension types, because one of them
streams (Server-Sent Events) and then all of them must.
"""

import azure.functions as func
from azurefunctions.extensions.http.fastapi import Request, Response

from api import handlers, meta
from jobs.sweeper import sweep
from services import get_services
from settings import QueueBackend, get_settings
from telemetry import configure_telemetry
from telemetry.logs import correlated

settings = get_settings()  # a wrong or missing setting stops start-up here, by name
configure_telemetry(settings)  # exports only when APPLICATIONINSIGHTS_CONNECTION_STRING is set
app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="jobs/{jobType}/start", methods=["POST"])
async def start_job(req: Request) -> Response:
    return await handlers.start_job(req)


@app.route(route="jobs/{jobType}/{jobId}", methods=["GET"])
async def get_job_status(req: Request) -> Response:
    return await handlers.get_status(req)


@app.route(route="jobs/{jobType}/{jobId}/events", methods=["GET"])
async def job_events(req: Request) -> Response:
    return await handlers.job_events(req)


@app.route(route="jobs/{jobType}/{jobId}/cancel", methods=["POST"])
async def cancel_job(req: Request) -> Response:
    return await handlers.cancel_job(req)


@app.route(route="jobs", methods=["GET"])
async def list_jobs(req: Request) -> Response:
    return await handlers.list_jobs(req)


@app.route(route="jobs/{jobType}/{jobId}/token", methods=["POST"])
async def mint_stream_token(req: Request) -> Response:
    return await handlers.mint_token(req)


@app.route(route="watch", methods=["POST"])
async def watch_jobs(req: Request) -> Response:
    return await handlers.watch(req)


@app.route(route="watch/events", methods=["GET"])
async def watch_events(req: Request) -> Response:
    return await handlers.watch_events(req)


@app.route(route="watch/{streamId}/events", methods=["GET"])
async def watch_stream_events(req: Request) -> Response:
    return await handlers.watch_stream_events(req)


@app.route(route="health", methods=["GET"])
async def health(req: Request) -> Response:
    return await meta.health(req)


@app.route(route="openapi.json", methods=["GET"])
async def openapi(req: Request) -> Response:
    return await meta.openapi(req)


if settings.queue_backend is QueueBackend.SERVICEBUS:

    @app.service_bus_queue_trigger(arg_name="msg", queue_name="%JOBS_QUEUE_NAME%", connection="ServiceBusConnection")
    async def run_job_servicebus(msg: func.ServiceBusMessage, context: func.Context) -> None:
        with correlated(invocation_id=context.invocation_id):
            await get_services().runner.handle(msg.get_body(), msg.delivery_count or 1)

else:

    @app.queue_trigger(arg_name="msg", queue_name="%JOBS_QUEUE_NAME%", connection="AzureWebJobsStorage")
    async def run_job_storage(msg: func.QueueMessage, context: func.Context) -> None:
        with correlated(invocation_id=context.invocation_id):
            await get_services().runner.handle(msg.get_body(), msg.dequeue_count or 1)


@app.timer_trigger(arg_name="timer", schedule="%JOBS_SWEEP_SCHEDULE%", run_on_startup=False)
async def sweep_jobs(timer: func.TimerRequest, context: func.Context) -> None:
    services = get_services()
    with correlated(invocation_id=context.invocation_id):
        await sweep(services.store, services.clock)
