import { bootstrapApplication } from '@angular/platform-browser';
import { JobEventsService } from 'job-events';

import { appConfig } from './app/app.config';
import { App } from './app/app';

bootstrapApplication(App, appConfig)
  .then((app) => {
    // Read-only, for the browser tests: what the library still holds (leak checks), and its counters.
    const events = app.injector.get(JobEventsService);
    Object.assign(window, {
      jobEventsHeld: () => events.held(),
      jobEventsStats: () => events.stats(),
    });
  })
  .catch((err) => console.error(err));
