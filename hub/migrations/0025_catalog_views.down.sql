ALTER VIEW erp.open_items RESET (security_invoker);
