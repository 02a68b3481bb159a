/** A modal dialog on `<dialog>`: opened while `open`, Esc or the close button calls `onClose`. */
import type { ComponentChildren } from "preact";
import { useEffect, useRef } from "preact/hooks";

/** Props of `Modal`. */
export interface ModalProps {
  open: boolean;
  onClose: () => void;
  /** The id of the element naming the dialog (its heading). */
  labelledBy: string;
  class?: string;
  testId?: string;
  children: ComponentChildren;
}

/** A modal (focus moves into it, the page behind is inert); Esc closes it through `onClose`. */
export function Modal({ open, onClose, labelledBy, class: cls, testId, children }: ModalProps) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) dialog.showModal();
    if (!open && dialog.open) dialog.close();
  }, [open]);
  return (
    <dialog
      ref={ref}
      class={cls}
      aria-labelledby={labelledBy}
      onCancel={(e) => {
        e.preventDefault();
        onClose();
      }}
      data-testid={testId}
    >
      {open && children}
    </dialog>
  );
}
