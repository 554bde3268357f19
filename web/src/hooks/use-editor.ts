import { useRef, useState } from 'preact/hooks';

/**
 * An admin list's editor: which item is being edited (its id, `'new'`, or null when closed), the
 * form's fields, and the form's heading, which `open` focuses once the form has rendered (so a
 * screen reader lands on it). `onOpen` clears what the last edit left on screen.
 */
export function useEditor<F>(empty: F, onOpen: () => void) {
  const [editing, setEditing] = useState<string | null>(null);
  const [form, setForm] = useState<F>(empty);
  const formHeading = useRef<HTMLHeadingElement>(null);
  const open = (id: string | null, fields: F) => {
    setEditing(id ?? 'new');
    onOpen();
    setForm(fields);
    setTimeout(() => formHeading.current?.focus(), 0);
  };
  return { editing, setEditing, form, setForm, formHeading, open };
}
