/** The options of `ng add job-events` (ng-add/schema.json). */
export interface Schema {
  /** The application to add job-events to; the only application when not given. */
  project?: string;
  /** Where the API lives: `/api` or an absolute http(s) URL. */
  apiUrl?: string;
}
