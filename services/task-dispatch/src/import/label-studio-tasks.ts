import type { TaskTypeName } from '@fairlabel/contracts';
import { answerFromLabelStudio } from '../label-studio.js';
import { isObject } from './validation.js';

/**
 * The Label Studio reader: one Label Studio task (as read from a JSON array) into a fairlabel item,
 * which then goes through the same validation as any other item.
 */

export function labelStudioToItem(task: unknown, taskType: TaskTypeName): { item: unknown } | { error: string } {
  if (!isObject(task) || !isObject(task.data)) return { error: 'a Label Studio task needs a `data` object' };
  const item: Record<string, unknown> = { data: task.data };
  const id = task.external_id ?? task.id;
  if (typeof id === 'string' || typeof id === 'number') item.external_id = String(id);
  const predictions = Array.isArray(task.predictions) ? task.predictions : [];
  const first = predictions[0];
  if (isObject(first)) {
    const converted = answerFromLabelStudio(taskType, first.result, task.data);
    if ('error' in converted) return { error: `predictions.0: ${converted.error}` };
    item.prediction = {
      answer: converted.answer,
      ...(typeof first.score === 'number' ? { confidence: first.score } : {}),
      ...(typeof first.model_version === 'string' ? { model_version: first.model_version } : {}),
    };
  }
  // A ground-truth annotation is Label Studio's way of saying "gold".
  const annotations = Array.isArray(task.annotations) ? task.annotations : [];
  const truth = annotations.find((a) => isObject(a) && a.ground_truth === true) as Record<string, unknown> | undefined;
  if (truth) {
    const converted = answerFromLabelStudio(taskType, truth.result, task.data);
    if ('error' in converted) return { error: `annotations (ground truth): ${converted.error}` };
    item.gold = converted.answer;
  }
  return { item };
}
