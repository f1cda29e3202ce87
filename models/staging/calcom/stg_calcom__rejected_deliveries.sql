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

        ---------- timestamps
        received_at

    from source

)

select * from renamed
