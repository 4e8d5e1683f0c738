import { ComponentFixture, TestBed } from '@angular/core/testing';

import { JobEvents } from './job-events';

describe('JobEvents', () => {
  let component: JobEvents;
  let fixture: ComponentFixture<JobEvents>;

  beforeEach(async () => {
    await TestBed.configureTestingModule({
      imports: [JobEvents],
    }).compileComponents();

    fixture = TestBed.createComponent(JobEvents);
    component = fixture.componentInstance;
    await fixture.whenStable();
  });

  it('should create', () => {
    expect(component).toBeTruthy();
  });
});
