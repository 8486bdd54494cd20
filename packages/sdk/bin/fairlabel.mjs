#!/usr/bin/env node
// The `fairlabel` bin of @fairlabel/sdk: the workspace ships TypeScript sources, so tsx loads them.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/fairlabel.ts');
