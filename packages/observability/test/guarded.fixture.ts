// A process with the fairlabel process guards, made to leave a rejection unhandled or throw uncaught.
import { Registry } from 'prom-client';
import { createLogger, installProcessGuards } from '../src/index.js';

const registry = new Registry();
installProcessGuards({ logger: createLogger({ name: 'guarded' }), registry });

if (process.argv[2] === 'rejection') {
  // Deliberately floating: this is what the guard is for.
  // eslint-disable-next-line @typescript-eslint/no-floating-promises
  Promise.reject(new Error('nobody awaited me'));
  setTimeout(() => {
    registry.getSingleMetricAsString('fairlabel_process_unhandled_errors_total').then(
      (text) => {
        console.log(text);
        console.log('still running');
      },
      () => process.exit(2),
    );
  }, 50);
} else {
  setTimeout(() => {
    throw new Error('thrown from a timer');
  }, 10);
  setTimeout(() => console.log('should not get here'), 1000);
}
