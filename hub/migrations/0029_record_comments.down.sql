DROP TABLE erp.comments;
DROP FUNCTION erp.refuse_comment_change();
