-- Whether a refused request carried an X-Cal-Signature-256 header. Only refusals that
-- look like Cal.com's own deliveries (a signature header present) count toward the
-- feed's refused share; requests without one are strangers' traffic (docs/design.md).
alter table raw.calcom_rejected_deliveries add column if not exists has_signature boolean;
