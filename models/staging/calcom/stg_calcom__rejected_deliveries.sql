with

source as (

    select * from {{ source('calcom', 'calcom_rejected_deliveries') }}

),

renamed as (

    select
        ---------- ids
        rejection_id,

        ---------- refusal
        reason as rejection_reason,
        status_code,
        body_size,
        has_signature,
        -- only refusals that look like Cal.com's own deliveries count toward the feed's
        -- refused share: a signature header that matched no secret (or Cal.com's
        -- `no-secret-provided`), or a signed body over the cap. Unsigned requests are
        -- strangers' traffic: recorded and shown, never able to switch on the fallback.
        case
            when reason in ('bad_signature', 'no_secret_provided') then true
            -- rows from before the flag existed count as they always did
            when reason = 'body_too_large' then coalesce(has_signature, true)
            else false
        end as is_calcom_like,

        ---------- timestamps
        received_at

    from source

)

select * from renamed
