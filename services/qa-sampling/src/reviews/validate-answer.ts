import { answerContextOf, answerSchemaFor, issuesOf, parseLabelConfig } from '@fairlabel/contracts';
import { unprocessable } from '@fairlabel/http';

/**
 * A reviewer's corrected answer, checked as a worker's submit is (the job's label config and the item's
 * text lengths): an invalid one is a 422 `invalid_answer` naming each field. Returns the parsed answer.
 */
export function validateCorrection(labelConfig: unknown, payload: unknown, answer: unknown): unknown {
  const checked = answerSchemaFor(parseLabelConfig(labelConfig), answerContextOf(payload)).safeParse(answer);
  if (!checked.success) {
    throw unprocessable(
      'invalid_answer',
      'corrected_answer does not fit the job\'s label config',
      issuesOf(checked.error).map((i) => ({ path: i.path ? `body.corrected_answer.${i.path}` : 'body.corrected_answer', message: i.message })),
    );
  }
  return checked.data;
}
