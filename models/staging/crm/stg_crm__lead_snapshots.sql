with

source as (

    select * from {{ source('crm', 'crm_lead_snapshots') }}

),

renamed as (

    select
        ---------- ids
        snapshot_id,
        lead_id,
        nullif(trim(booking_uid), '') as crm_booking_uid,

        ---------- strings
        nullif(lower(trim(email)), '') as lead_email,
        nullif(trim(name), '') as lead_name,
        coalesce(nullif(lower(trim(source)), ''), 'unknown') as lead_source,
        nullif(trim(status), '') as crm_lead_status_raw,
        nullif(trim(booking_status), '') as crm_booking_status_raw,

        ---------- timestamps
        snapshot_at,
        created_at as lead_created_at,
        booked_at as crm_booked_at,
        invited_at,
        reminder_sent_at,
        updated_at as crm_updated_at

    from source

)

select * from renamed
