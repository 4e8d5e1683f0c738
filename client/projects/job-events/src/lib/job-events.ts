import { Component } from '@angular/core';

@Component({
  selector: 'lib-job-events',
  imports: [],
  template: ` <p>job-events works!</p> `,
  styles: ``,
})
export class JobEvents {}
