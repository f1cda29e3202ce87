with

source as (

    select * from {{ source('review', 'manual_outcomes') }}

),

renamed as (

    select
        ---------- ids
        confirmation_id,
        booking_id,

        ---------- outcome
        outcome as manual_outcome,
        confirmed_by,
        note as confirmation_note,

        ---------- timestamps
        confirmed_at

    from source

)

select * from renamed
