import { useState } from 'preact/hooks';
import { errorMessage } from '../api';
import { firstError, type Checked, type FieldErrors } from '../forms';

/**
 * The state every saving form on the pages keeps: messages per field, the form's error notice,
 * its success notice and whether a request is running. `submit` runs a check from `forms.ts`
 * and, when it passes, the request.
 */
export function useForm<K extends string = string>() {
  const [errors, setErrors] = useState<FieldErrors<K>>({});
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  /**
   * Clears the success notice, then either shows what to fix or sends. `show: 'fields'` puts each
   * message beside its field with a summary notice; `'first'` puts only the first message in the
   * notice (forms without per-field messages). `send` resolves to the success notice's text; its
   * failure becomes the error notice.
   */
  const submit = async <T>(checked: Checked<T, K>, send: (value: T) => Promise<string>, show: 'fields' | 'first' = 'fields') => {
    setDone(null);
    if (!checked.ok) {
      if (show === 'fields') {
        setErrors(checked.errors);
        setError('Please fix the highlighted fields.');
      } else setError(firstError(checked.errors));
      return;
    }
    if (show === 'fields') setErrors({});
    setBusy(true);
    setError(null);
    try {
      setDone(await send(checked.value));
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  return { errors, error, setError, done, setDone, busy, submit };
}
