"""The adoption path, end to end: the library as a package, in an app nobody here wrote.

`ng build job-events` (and the schematic's tsc step) makes the package and `npm pack` its
tarball; the Angular CLI pinned in client/package.json makes a new standalone app without
routing; npm installs the app; `ng add <tarball>`, in a terminal, installs the package and
asks for the API URL, and registers the providers (a second `ng add job-events` changes
nothing); a component written the way the client README shows it starts a job and follows
it; `ng build` builds it for production; the build is served on an origin of its own beside
a local host, and Chromium drives it until the job is Completed.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import pty
import re
import select
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Request

from harness.processes import ROOT
from tests.e2e.conftest import HostFactory, classify, write_artifact

CLIENT = ROOT / "client"
PACKAGE_DIST = CLIENT / "dist" / "job-events"

# The app's one component: a job started and followed as the client README shows, both ways:
# jobResource's signals and watchJob's Observable (they share one watch).
COMPONENT = """\
import { DecimalPipe } from '@angular/common';
import { Component, DestroyRef, inject, signal } from '@angular/core';
import { takeUntilDestroyed } from '@angular/core/rxjs-interop';
import { JobEvent, JobEventsService, JobStarted, jobResource } from 'job-events';
import { switchMap, tap } from 'rxjs';

@Component({
  selector: 'app-root',
  imports: [DecimalPipe],
  template: `
    <h1>Fresh app</h1>
    <button type="button" data-testid="start" (click)="start()">Start a job</button>
    <p data-testid="resource" [attr.data-status]="watch.status()" [attr.data-finished]="watch.finished()"
       [attr.data-transport]="watch.transport()">
      {{ watch.status() ?? 'idle' }} {{ watch.progress() * 100 | number: '1.0-0' }}%
    </p>
    @if (job(); as job) {
      <p data-testid="watched" [attr.data-status]="job.status" [attr.data-job-id]="job.jobId">
        {{ job.status }} {{ job.progress * 100 | number: '1.0-0' }}% {{ job.message }}
      </p>
    }
    @if (error(); as error) {
      <p data-testid="error">{{ error }}</p>
    }
  `,
})
export class App {
  protected readonly job = signal<JobEvent | null>(null);
  protected readonly error = signal<string | null>(null);
  private readonly jobs = inject(JobEventsService);
  private readonly destroyRef = inject(DestroyRef);
  // Signals: the job the button started, followed by jobResource (idle until then).
  private readonly started = signal<JobStarted | undefined>(undefined);
  protected readonly watch = jobResource(() => this.started());

  // Observables: the same job through watchJob, as in "Starting a job and following it".
  start(): void {
    this.jobs
      .startJob('Sleep', { seconds: 1 })
      .pipe(
        tap((started) => this.started.set(started)),
        switchMap((started) => this.jobs.watchJob(started.jobType, started.jobId)),
        takeUntilDestroyed(this.destroyRef),
      )
      .subscribe({
        next: (event) => this.job.set(event),
        error: (error) => this.error.set(String(error)),
      });
  }
}
"""


def pinned_cli_version() -> str:
    """The exact Angular CLI version client/package.json pins (its range's lower bound)."""
    spec = json.loads((CLIENT / "package.json").read_text())["devDependencies"]["@angular/cli"]
    match = re.fullmatch(r"[\^~]?(\d+\.\d+\.\d+)", spec)
    assert match, f"client/package.json pins @angular/cli as {spec!r}, not a version"
    return match.group(1)


class Steps:
    """Runs the commands of the adoption path and times each one."""

    def __init__(self, log_dir: Path) -> None:
        self.seconds: dict[str, float] = {}
        self.log_dir = log_dir
        self.env = {**os.environ, "NG_CLI_ANALYTICS": "false"}

    def run(self, name: str, command: list[str], cwd: Path, timeout: float = 600) -> str:
        started = time.monotonic()
        done = subprocess.run(
            command, cwd=cwd, env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )
        self.seconds[name] = round(time.monotonic() - started, 1)
        output = done.stdout + done.stderr
        (self.log_dir / f"{name}.log").write_text(output)
        assert done.returncode == 0, f"{name}: {' '.join(command)} exited {done.returncode}:\n{output[-4000:]}"
        return output

    def run_answering(
        self, name: str, command: list[str], cwd: Path, *, prompt: bytes, answer: str, timeout: float = 300
    ) -> str:
        """Runs `command` in a pseudo-terminal (the CLI prompts only in one) and types
        `answer` once `prompt` shows."""
        started = time.monotonic()
        # The Angular CLI never prompts when CI is set (as .ci/run sets it): the prompt is this step's point.
        env = {name: value for name, value in self.env.items() if name != "CI"}
        pid, fd = pty.fork()
        if pid == 0:  # the child: exec, or leave without running the parent's cleanup
            try:
                os.chdir(cwd)
                os.execvpe(command[0], command, env)
            finally:
                os._exit(127)
        output, answered = b"", False
        try:
            while time.monotonic() - started < timeout:
                if not select.select([fd], [], [], 0.5)[0]:
                    continue
                try:
                    chunk = os.read(fd, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                output += chunk
                if not answered and prompt in output:
                    os.write(fd, answer.encode() + b"\r")
                    answered = True
        finally:
            os.close(fd)
            _, status = os.waitpid(pid, 0)
        self.seconds[name] = round(time.monotonic() - started, 1)
        text = output.decode(errors="replace")
        (self.log_dir / f"{name}.log").write_text(text)
        assert answered, f"{name}: no prompt {prompt!r} within {timeout}s:\n{text[-4000:]}"
        assert os.waitstatus_to_exitcode(status) == 0, f"{name} failed:\n{text[-4000:]}"
        return text


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def static_server(folder: Path) -> Iterator[str]:
    """A static file server for `folder` on a port of its own; yields its origin."""
    folder.mkdir(parents=True, exist_ok=True)
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.browser
@pytest.mark.timeout(1200)
def test_the_package_in_a_fresh_app_follows_a_job_to_completed(
    host_factory: HostFactory, browser: Browser, tmp_path: Path
) -> None:
    steps = Steps(tmp_path)
    app = tmp_path / "fresh"
    try:
        www = tmp_path / "www"
        with static_server(www) as origin:
            # The app's origin is not the API's: the API's CORS must list it.
            host = host_factory(CORS_ALLOWED_ORIGINS=origin)
            api_url = f"{host.base_url}/api"

            # The package, as a user installs it.
            steps.run("build package", ["npm", "run", "build:job-events"], CLIENT)
            steps.run("npm pack", ["npm", "pack", str(PACKAGE_DIST), "--pack-destination", str(tmp_path)], CLIENT)
            [tarball] = tmp_path.glob("job-events-*.tgz")

            # An app nobody here wrote, made by the pinned CLI.
            cli = f"@angular/cli@{pinned_cli_version()}"
            steps.run(
                "ng new",
                ["npx", "-y", cli, "new", "fresh", "--defaults", "--standalone", "--routing=false", "--style=css",
                 "--ssr=false", "--skip-git", "--skip-install", "--skip-tests", "--ai-config=none"],
                tmp_path,
            )  # fmt: skip
            steps.run("npm install", ["npm", "install", "--prefer-offline", "--no-audit", "--no-fund"], app)
            # ng add from the tarball, in a terminal: it installs the package and asks for the
            # API URL; then `ng add job-events` once more, with another URL: it changes nothing.
            steps.run_answering(
                "ng add (tarball, prompt answered)",
                ["npx", "ng", "add", str(tarball), "--skip-confirmation"],
                app,
                prompt=b"Where does the job-events API live?",
                answer=api_url,
            )
            manifest = json.loads((app / "package.json").read_text())
            assert manifest["dependencies"]["job-events"].endswith(tarball.name), manifest["dependencies"]
            config_file = app / "src" / "app" / "app.config.ts"
            config = config_file.read_text()
            assert f"provideJobEvents({{ apiUrl: '{api_url}' }})" in config, config
            assert "provideHttpClient(withFetch())" in config, config
            assert "import { provideJobEvents } from 'job-events';" in config, config
            again = ["npx", "ng", "add", "job-events", "--api-url=https://elsewhere.example.test/api"]
            output = steps.run("ng add again", again, app)
            assert "already calls provideJobEvents" in output, output
            assert config_file.read_text() == config, "a second ng add changed app.config.ts"

            # The component, then a production build.
            (app / "src" / "app" / "app.ts").write_text(COMPONENT)
            for generated in ("app.html", "app.css"):
                (app / "src" / "app" / generated).unlink()
            steps.run("ng build", ["npx", "ng", "build", "--configuration", "production"], app)
            browser_dist = app / "dist" / "fresh" / "browser"
            assert (browser_dist / "index.html").exists(), sorted(p.name for p in browser_dist.parent.iterdir())
            shutil.copytree(browser_dist, www, dirs_exist_ok=True)

            started = time.monotonic()
            context = browser.new_context()
            try:
                page = context.new_page()
                api_calls: list[str] = []
                problems: list[str] = []

                def record(request: Request) -> None:
                    if request.url.startswith(api_url + "/") or request.url == api_url:
                        path = request.url[len(host.base_url) :].partition("?")[0]
                        api_calls.append(classify(request.method, path))

                def console(message: ConsoleMessage) -> None:
                    if message.type == "error":
                        problems.append(message.text)

                page.on("request", record)
                page.on("console", console)
                page.on("pageerror", lambda error: problems.append(str(error)))
                page.goto(origin + "/")
                page.get_by_role("heading", name="Fresh app").wait_for()
                resource = page.get_by_test_id("resource")
                assert resource.inner_text().startswith("idle"), resource.inner_text()
                page.get_by_test_id("start").click()
                watched = page.get_by_test_id("watched")
                try:
                    page.locator("[data-testid=watched][data-status=Completed]").wait_for(timeout=30_000)
                    page.locator("[data-testid=resource][data-status=Completed][data-finished=true]").wait_for(
                        timeout=5_000
                    )
                except Exception:
                    shown = (watched.inner_text() if watched.count() else None, resource.inner_text())
                    error = page.get_by_test_id("error")
                    raise AssertionError(
                        f"no Completed job: shown {shown!r}, error {error.inner_text() if error.count() else None!r}, "
                        f"API calls {api_calls}, page problems {problems}"
                    ) from None
                assert resource.get_attribute("data-transport") == "sse", resource.get_attribute("data-transport")
                job_id = watched.get_attribute("data-job-id")
                steps.seconds["browser: open, start, Completed"] = round(time.monotonic() - started, 1)

                # It came over a stream from the other origin, not by polling, and nothing went wrong.
                assert api_calls.count("start") == 1, api_calls
                assert "stream" in api_calls, api_calls
                assert "poll" not in api_calls, api_calls
                assert problems == [], problems
            finally:
                context.close()

            status = httpx.get(f"{api_url}/jobs/Sleep/{job_id}", timeout=5)
            assert status.json()["status"] == "Completed", status.text
    finally:
        shutil.rmtree(app / "node_modules", ignore_errors=True)
        print("fresh-app timings (s):", json.dumps(steps.seconds))
        write_artifact("fresh-app-timings.json", steps.seconds)
