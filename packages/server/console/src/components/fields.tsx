import type { ComponentChildren, JSX } from 'preact';

type InputProps = Omit<JSX.InputHTMLAttributes<HTMLInputElement>, 'value' | 'onInput' | 'label'>;

/**
 * A labelled text input (the label names it for screen readers and tests). `onValue` gets the
 * new text on every keystroke; other props go to the input (type, placeholder, size...).
 */
export function TextField({
  label,
  value,
  onValue,
  ...input
}: { label: string; value: string; onValue: (value: string) => void } & InputProps) {
  return (
    <label>
      {label} <input {...input} value={value} onInput={(e) => onValue(e.currentTarget.value)} />
    </label>
  );
}

/** A labelled select; the options are its children. */
export function SelectField({
  label,
  value,
  onValue,
  children,
}: {
  label: string;
  value: string;
  onValue: (value: string) => void;
  children: ComponentChildren;
}) {
  return (
    <label>
      {label}{' '}
      <select value={value} onChange={(e) => onValue(e.currentTarget.value)}>
        {children}
      </select>
    </label>
  );
}
