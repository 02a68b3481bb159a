/** A modal confirmation built on `<dialog>` (no `window.confirm`, so it can be styled and tested). */
import { useEffect, useRef } from "preact/hooks";
import { t } from "../i18n.js";

/** Props of `ConfirmDialog`. */
export interface ConfirmProps {
  /** The question; the dialog is open while it is set. */
  message: string | null;
  onConfirm: () => void;
  onCancel: () => void;
  confirmLabel?: string;
}

/** Asks `message` with confirm (`data-testid="confirm-ok"`) and cancel (`confirm-cancel`) buttons. */
export function ConfirmDialog({ message, onConfirm, onCancel, confirmLabel }: ConfirmProps) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (message && !dialog.open) dialog.showModal();
    if (!message && dialog.open) dialog.close();
  }, [message]);
  return (
    <dialog ref={ref} class="confirm" aria-labelledby="confirm-text" onCancel={onCancel} data-testid="confirm">
      <p id="confirm-text">{message}</p>
      <div class="actions">
        <button type="button" class="secondary" onClick={onCancel} data-testid="confirm-cancel">
          {t("cancel")}
        </button>
        <button type="button" class="danger" onClick={onConfirm} data-testid="confirm-ok">
          {confirmLabel ?? t("confirm")}
        </button>
      </div>
    </dialog>
  );
}
