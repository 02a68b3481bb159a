/** A modal confirmation on the UI kit's dialog (no `window.confirm`, so it can be styled and tested). */
import { Modal } from "@steinmetz/ui-kit/dialog.js";
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
  return (
    <Modal open={message !== null} onClose={onCancel} labelledBy="confirm-text" class="confirm" testId="confirm">
      <p id="confirm-text">{message}</p>
      <div class="actions">
        <button type="button" class="secondary" onClick={onCancel} data-testid="confirm-cancel">
          {t("cancel")}
        </button>
        <button type="button" class="danger" onClick={onConfirm} data-testid="confirm-ok">
          {confirmLabel ?? t("confirm")}
        </button>
      </div>
    </Modal>
  );
}
